"""Compiled dataclass methods, kept beside each module's bytecode cache.

On Python 3.11 and 3.12, ``@dataclass`` writes the source of every method it adds
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, and a frozen class's
``__setattr__`` and ``__delattr__``) and compiles it with ``exec`` at each import: about
0.1 ms a method, six methods a frozen class. A build loads some 120 of imageforge's
classes, so every ``imageforge build`` spent ~70 ms of its start compiling the same
texts again (issue #32; 3.13 compiles once a class, still at each import). Python keeps
the bytecode of modules in ``__pycache__``, never this code.

:func:`install` keeps it there too. The ``exec`` that :mod:`dataclasses` calls is served,
for imageforge's own modules only, from a file beside the module's ``.pyc``
(``<module>.<tag>.dataclasses`` where :func:`importlib.util.cache_from_source` puts the
``.pyc``, so ``PYTHONPYCACHEPREFIX`` applies): a marshalled mapping from each generated
text to the code compiled from it, exactly as the builtin ``exec`` would compile it. The
text itself is the key, so a changed class can never be given stale code; whoever can
write the file could already write the ``.pyc`` beside it, so it trusts no one new.
Missing texts are compiled as before and the file is rewritten at exit (temp file and
rename; not when ``PYTHONDONTWRITEBYTECODE`` is set). A file that cannot be read or is not
such a mapping is ignored. Every other ``exec`` goes to the builtin untouched.
"""

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
from types import CodeType
from typing import Any

__all__ = ["install"]

_PACKAGE = "imageforge."
_SUFFIX = ".dataclasses"


class _Shard:
    """The cached code of one module: what its file held, what this process used."""

    __slots__ = ("codes", "missed", "path", "used")

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.codes = _read(path) if path else {}
        self.used: dict[str, CodeType] = {}
        self.missed = False


_shards: dict[str, _Shard] = {}
_owner = 0  # the process that installed the hook writes the files


def _read(path: str) -> dict[str, CodeType]:
    try:
        with open(path, "rb") as f:
            data = marshal.loads(f.read())  # marshal.load reads a file in small pieces
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, CodeType)}


def _path(module_file: object) -> str | None:
    if not isinstance(module_file, str) or not module_file.endswith(".py"):
        return None
    import importlib.util

    try:
        pyc = importlib.util.cache_from_source(module_file)
    except (NotImplementedError, ValueError):  # no cache tag / no bytecode cache
        return None
    return pyc.removesuffix(".pyc") + _SUFFIX


def _code(module: str, namespace: dict[str, Any], text: str) -> CodeType:
    shard = _shards.get(module)
    if shard is None:
        shard = _shards[module] = _Shard(_path(namespace.get("__file__")))
    code = shard.codes.get(text)
    if code is None:
        # What the builtin exec does with a string called from dataclasses (which has no
        # __future__ imports): compile it as "<string>", inheriting no flags.
        code = compile(text, "<string>", "exec", dont_inherit=True)
        shard.missed = True
    shard.used[text] = code
    return code


def _exec(
    source: Any, globals_: dict[str, Any] | None = None, locals_: Any = None, /, **kw: Any
) -> None:
    if globals_ is None:  # the builtin's default: the caller's namespace
        globals_ = sys._getframe(1).f_globals
        if locals_ is None:
            locals_ = sys._getframe(1).f_locals
    if type(source) is str and not kw:
        module = globals_.get("__name__")
        if isinstance(module, str) and module.startswith(_PACKAGE):
            source = _code(module, globals_, source)
    builtins.exec(source, globals_, locals_, **kw)


def _write(path: str, codes: dict[str, CodeType]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            marshal.dump(codes, f)
        os.replace(tmp, path)
    except OSError:  # a cache: a read-only install or a full disk just go without it
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _save() -> None:
    if sys.dont_write_bytecode or os.getpid() != _owner:
        return
    for shard in _shards.values():
        if shard.missed and shard.path:
            _write(shard.path, shard.used)
            shard.missed = False


def install() -> None:
    """Serve the ``exec`` of :mod:`dataclasses` from the cache (idempotent)."""
    global _owner
    if vars(dataclasses).get("exec") is _exec:
        return
    _owner = os.getpid()
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    atexit.register(_save)
