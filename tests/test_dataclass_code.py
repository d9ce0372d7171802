"""The compiled code of dataclass methods is kept beside the bytecode cache: a second
process compiles nothing, the classes behave exactly as without the cache, a changed
class never gets stale code, and a damaged or unwritable cache only costs the compile."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Run in a fresh interpreter: imports the module at PATH under NAME with the cache
# installed (importing imageforge installs it), counting the compiles the cache makes,
# and prints how its classes behave.
_PROBE = """
import dataclasses, importlib.util, json, sys
import imageforge._dataclass_code as cache

compiled = []
real_compile = compile
def counting(*args, **kwargs):
    compiled.append(args[0])
    return real_compile(*args, **kwargs)
cache.compile = counting

name, path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
Point, Tagged = module.Point, module.Tagged
p = Point(1, 2)
try:
    p.x = 5
    frozen = "assignment allowed"
except dataclasses.FrozenInstanceError as exc:
    frozen = type(exc).__name__
t = Tagged(name="a", note="x")
print(json.dumps({
    "compiled": len(compiled),
    "repr": [repr(p), repr(t)],
    "eq": [p == Point(1, 2), p == Point(2, 1), t == Tagged(name="a", note="y")],
    "hash": hash(p) == hash(Point(1, 2)),
    "frozen": frozen,
    "defaults": [Point(3).y, Tagged(name="b").tags],
    "post_init": t.upper,
    "fields": [f.name for f in dataclasses.fields(Tagged)],
}))
"""

_MODULE = """
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    x: int
    y: int = 0{extra}


@dataclass(kw_only=True)
class Tagged:
    name: str
    note: str = field(default="", compare=False)
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.upper = self.name.upper()
"""


def _write_module(directory: Path, extra: str = "") -> Path:
    path = directory / "probe_mod.py"
    path.write_text(_MODULE.format(extra=extra))
    return path


def _probe(name: str, path: Path, prefix: Path, *, write: bool = True) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, name, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _cache_file(path: Path, prefix: Path) -> Path:
    code = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util, sys; print(importlib.util.cache_from_source(sys.argv[1]))",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPYCACHEPREFIX=str(prefix)),
        check=True,
    ).stdout.strip()
    return Path(code.removesuffix(".pyc") + ".dataclasses")


def _behaviour(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k != "compiled"}


def test_a_second_process_compiles_nothing_and_behaves_the_same(tmp_path: Path) -> None:
    path = _write_module(tmp_path)
    prefix = tmp_path / "pycache"
    first = _probe("imageforge.probe_mod", path, prefix)
    assert first["compiled"], "the first process compiles the generated methods"
    assert _cache_file(path, prefix).is_file()
    second = _probe("imageforge.probe_mod", path, prefix)
    assert second["compiled"] == 0
    assert _behaviour(second) == _behaviour(first)
    # ... and both behave as the same classes outside imageforge, which the cache
    # never serves (no file is kept for them).
    other_prefix = tmp_path / "other-pycache"
    plain = _probe("probe_mod", path, other_prefix)
    assert _behaviour(plain) == _behaviour(first)
    assert plain["compiled"] == 0  # never went through the cache
    assert not _cache_file(path, other_prefix).exists()
    assert first["repr"] == ["Point(x=1, y=2)", "Tagged(name='a', note='x', tags=[])"]
    assert first["eq"] == [True, False, True]
    assert first["frozen"] == "FrozenInstanceError"
    assert first["post_init"] == "A"


def test_a_changed_class_never_gets_the_old_code(tmp_path: Path) -> None:
    path = _write_module(tmp_path)
    prefix = tmp_path / "pycache"
    _probe("imageforge.probe_mod", path, prefix)
    path.unlink()
    for stale in prefix.rglob("*.pyc"):  # the source changes within the same second
        stale.unlink()
    path = _write_module(tmp_path, extra="\n    z: int = 7")
    changed = _probe("imageforge.probe_mod", path, prefix)
    assert changed["repr"] == ["Point(x=1, y=2, z=7)", "Tagged(name='a', note='x', tags=[])"]
    assert changed["compiled"], "the changed class's methods are new texts"
    again = _probe("imageforge.probe_mod", path, prefix)
    assert again["compiled"] == 0 and again["repr"] == changed["repr"]


@pytest.mark.parametrize("damage", [b"", b"not marshal data", b"\xfb\x00\x00", "marshalled list"])
def test_a_damaged_cache_file_is_ignored_and_rewritten(tmp_path: Path, damage: bytes | str) -> None:
    import marshal

    path = _write_module(tmp_path)
    prefix = tmp_path / "pycache"
    good = _probe("imageforge.probe_mod", path, prefix)
    cache = _cache_file(path, prefix)
    cache.write_bytes(marshal.dumps([1, 2]) if isinstance(damage, str) else damage)
    after = _probe("imageforge.probe_mod", path, prefix)
    assert _behaviour(after) == _behaviour(good)
    assert after["compiled"] == good["compiled"]
    assert isinstance(marshal.loads(cache.read_bytes()), dict)  # rewritten whole
    assert _probe("imageforge.probe_mod", path, prefix)["compiled"] == 0


def test_nothing_is_written_when_bytecode_writing_is_off(tmp_path: Path) -> None:
    path = _write_module(tmp_path)
    prefix = tmp_path / "pycache"
    result = _probe("imageforge.probe_mod", path, prefix, write=False)
    assert result["compiled"] and not _cache_file(path, prefix).exists()


def test_an_unwritable_cache_directory_costs_only_the_compile(tmp_path: Path) -> None:
    path = _write_module(tmp_path)
    blocker = tmp_path / "pycache"
    blocker.write_text("a file where the cache directory would go")
    result = _probe("imageforge.probe_mod", path, blocker)
    assert result["compiled"] and result["repr"] == [
        "Point(x=1, y=2)",
        "Tagged(name='a', note='x', tags=[])",
    ]
    assert blocker.read_text().startswith("a file")
    assert not list(tmp_path.glob("**/*.tmp"))


def test_importing_imageforge_installs_the_cache_once() -> None:
    import dataclasses

    import imageforge._dataclass_code as cache

    served = vars(dataclasses).get("exec")
    cache.install()
    assert vars(dataclasses).get("exec") is served is cache._exec
    assert importlib.util.find_spec("imageforge._dataclass_code") is not None
