"""One owner for each small mechanism (#20): each is defined once, in the module that owns
it, and no other function of ``src/imageforge`` carries the marks of a copy of it.

Two checks per mechanism, over the parsed source (nothing imported):

- its name is defined once in all of ``src/imageforge`` (a function, class or module-level
  name; ``_name`` counts as ``name``), in the owning module;
- every function outside the owning module is searched for the marks of a
  re-implementation (a symlink walk with ``..`` clamped at a root, a recursive or
  stacked walk over an index's children, a question to the kernel for its machine name,
  an RFC 3339 format string). A function that carries them for a reason other than
  copying is listed with the reason, and a listed function that no longer carries them
  fails the test too, so the list cannot outlive what it excuses.

Adding a mechanism is one line of :data:`MECHANISMS` (marks are optional), e.g.
``Mechanism("ingest_layer", "<its module>.py")``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "imageforge"

Mark = Callable[[ast.AST], bool]


def _nodes(fn: ast.AST) -> Iterator[ast.AST]:
    return ast.walk(fn)


def _compares_to(fn: ast.AST, value: str) -> bool:
    return any(
        isinstance(n, ast.Compare)
        and any(isinstance(c, ast.Constant) and c.value == value for c in [n.left, *n.comparators])
        for n in _nodes(fn)
    )


def _names(fn: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in _nodes(fn):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
    return out


def _calls(fn: ast.AST) -> set[str]:
    """Names called in ``fn``: ``f()`` and ``x.f()`` both give ``f``."""
    out: set[str] = set()
    for n in _nodes(fn):
        if isinstance(n, ast.Call):
            if isinstance(n.func, ast.Name):
                out.add(n.func.id)
            elif isinstance(n.func, ast.Attribute):
                out.add(n.func.attr)
    return out


def follows_symlinks_in_a_root(fn: ast.AST) -> bool:
    """A loop over path components, ``..`` popping the path so far, following symlink
    targets."""
    return (
        any(isinstance(n, ast.While) for n in _nodes(fn))
        and _compares_to(fn, "..")
        and bool(_names(fn) & {"readlink", "linkname", "is_symlink", "S_ISLNK", "MAX_SYMLINKS"})
    )


def walks_an_index(fn: ast.AST) -> bool:
    """Reads an index's ``.manifests`` and goes below them: opens each child
    (``.image(d)`` / ``.index(d)``), calls itself, or keeps a stack of them."""
    if not any(isinstance(n, ast.Attribute) and n.attr == "manifests" for n in _nodes(fn)):
        return False
    name = fn.name if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) else ""
    recursive = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
        for n in _nodes(fn)
    )
    opens = any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in ("image", "index")
        and n.args
        for n in _nodes(fn)
    )
    stacked = any(isinstance(n, ast.While) for n in _nodes(fn))
    return recursive or opens or stacked


def asks_the_machine_name(fn: ast.AST) -> bool:
    """``platform.machine()`` or ``os.uname().machine``."""
    return "machine" in _calls(fn) or any(
        isinstance(n, ast.Attribute)
        and n.attr == "machine"
        and isinstance(n.value, ast.Call)
        and "uname" in _calls(n.value)
        for n in _nodes(fn)
    )


def picks_an_index_image(fn: ast.AST) -> bool:
    """Calls the transports' raw search for a platform's image, with its own default."""
    return "select_platform" in _calls(fn)


_RFC3339_FORMAT = re.compile(r"%Y-%m-%dT|%H:%M:%S(\.%f)?Z")


def formats_rfc3339(fn: ast.AST) -> bool:
    """``strftime`` with an RFC 3339 layout, or ISO 8601's ``+00:00`` made ``Z`` (parsing
    with ``strptime`` is not formatting)."""
    for n in _nodes(fn):
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
            continue
        texts = [a.value for a in n.args if isinstance(a, ast.Constant)]
        if n.func.attr == "strftime" and any(
            isinstance(t, str) and _RFC3339_FORMAT.search(t) for t in texts
        ):
            return True
        if n.func.attr == "replace" and texts == ["+00:00", "Z"]:
            return True
    return False


@dataclass(frozen=True)
class Mechanism:
    name: str
    """The name it is defined under (``_name`` elsewhere counts as a second definition)."""
    owner: str
    """The owning module, relative to ``src/imageforge``."""
    marks: tuple[Mark, ...] = ()
    """What a re-implementation of it looks like; a function outside ``owner`` carrying
    every mark of one entry is a copy."""
    not_copies: Mapping[str, str] = field(default_factory=dict)
    """``module.py:function`` carrying the marks for another reason -> that reason."""


MECHANISMS = [
    Mechanism(
        "resolve_in_view",
        "layers/_inroot.py",
        (follows_symlinks_in_a_root,),
        {
            "builder/_incontext.py:resolve_in_context": "the build context is not a root: "
            "a symlink leaving it is refused, not clamped (see that module's docstring); "
            "it shares MAX_SYMLINKS with the in-root resolver",
        },
    ),
    Mechanism("resolve_in_root", "layers/_inroot.py"),
    Mechanism(
        "walk_graph",
        "oci/_graph.py",
        (walks_an_index,),
        {
            "transports/_copy.py:select_platform": "a search for one platform's image "
            "that stops at the first match and prefers an index's own children; it opens "
            "only the images it returns, where a walk would open every child",
        },
    ),
    Mechanism("walk_image_graph", "oci/_graph.py"),
    Mechanism("ingest_layer", "layers/_ingest.py"),
    Mechanism("host_platform", "oci/_platform.py", (asks_the_machine_name,)),
    Mechanism("rfc3339", "oci/_time.py", (formats_rfc3339,)),
    Mechanism("user_cache_dir", "store/_userdirs.py"),
    Mechanism(
        "image_for_platform",
        "pipeline/_lookup.py",
        (picks_an_index_image,),
        {
            "transports/_copy.py:select_platform": "the raw search image_for_platform "
            "calls; it recurses into nested indexes",
            "transports/_copy.py:write_image": "a docker-archive sink holds one image: "
            "the library default when a caller hands it an index (the pipeline hands it "
            "the image image_for_platform chose)",
        },
    ),
]


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        yield rel, ast.parse(path.read_text(), filename=rel)


def _definitions(tree: ast.Module) -> Iterator[str]:
    """Names a module defines: functions and classes at any depth, module-level names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        yield from (t.id for t in targets if isinstance(t, ast.Name))


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """Module-level functions and methods, by ``name`` / ``Class.name``; a nested
    function is searched as part of the one around it."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{item.name}", item


MODULES = dict(_modules())


@pytest.mark.parametrize("mechanism", MECHANISMS, ids=lambda m: m.name)
def test_defined_once_by_its_owner(mechanism: Mechanism) -> None:
    where = [
        rel
        for rel, tree in MODULES.items()
        for name in _definitions(tree)
        if name.lstrip("_") == mechanism.name
    ]
    assert where == [mechanism.owner], f"{mechanism.name} is defined in {where}"


@pytest.mark.parametrize("mechanism", [m for m in MECHANISMS if m.marks], ids=lambda m: m.name)
def test_no_copy_outside_its_owner(mechanism: Mechanism) -> None:
    carriers = {
        f"{rel}:{name}"
        for rel, tree in MODULES.items()
        if rel != mechanism.owner
        for name, fn in _functions(tree)
        if all(mark(fn) for mark in mechanism.marks)
    }
    copies = carriers - set(mechanism.not_copies)
    assert not copies, f"{mechanism.name} is written again in {sorted(copies)}: call it"
    stale = set(mechanism.not_copies) - carriers
    assert not stale, (
        f"{sorted(stale)} no longer carry the marks of {mechanism.name}: "
        "remove them from its not_copies"
    )


_COPIES: list[tuple[Mark, str]] = [
    (
        follows_symlinks_in_a_root,
        """
def resolves(root, path):
    todo, done, hops = path.split("/"), [], 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = os.path.join(root, *done, part)
        if os.path.islink(here):
            hops += 1
            todo = os.readlink(here).split("/") + todo
            continue
        done.append(part)
    return "/".join(done)
""",
    ),
    (
        walks_an_index,
        """
def all_images(index):
    out = []
    for desc in index.manifest().manifests:
        if is_index(desc.media_type):
            out.extend(all_images(index.index(desc.digest)))
        else:
            out.append(index.image(desc.digest))
    return out
""",
    ),
    (
        walks_an_index,
        """
def reachable(refs, read):
    seen, stack = set(), list(refs)
    while stack:
        doc = read(stack.pop())
        stack.extend(d.digest for d in doc.manifests)
    return seen
""",
    ),
    (asks_the_machine_name, "def arch():\n    return ALIASES.get(platform.machine())\n"),
    (asks_the_machine_name, "def arch():\n    return os.uname().machine\n"),
    (formats_rfc3339, 'def now():\n    return time.strftime("%Y-%m-%dT%H:%M:%SZ")\n'),
    (formats_rfc3339, 'def stamp(t):\n    return t.isoformat().replace("+00:00", "Z")\n'),
    (
        picks_an_index_image,
        """
def inspect_doc(obj, platform):
    try:
        return select_platform(obj, platform)
    except NotFound:
        first = next(d.platform for d in obj.manifest().manifests if d.platform)
        return select_platform(obj, first)
""",
    ),
]


@pytest.mark.parametrize("mark, source", _COPIES, ids=lambda x: getattr(x, "__name__", ""))
def test_a_mark_finds_a_copy_written_the_usual_way(mark: Mark, source: str) -> None:
    """The marks are not blind: a copy written the way the removed ones were carries them."""
    (fn,) = ast.parse(source).body
    assert mark(fn)
