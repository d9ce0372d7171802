"""The one in-root resolver: the same walk over a directory on disk and over any view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.layers import resolve_in_root, resolve_in_view, root_lookup


@dataclass(frozen=True)
class _Node:
    kind: str
    linkname: str = ""


_TREE = {
    "usr": _Node("dir"),
    "usr/lib": _Node("dir"),
    "usr/lib/x.so": _Node("file"),
    "lib": _Node("symlink", "usr/lib"),
    "abs": _Node("symlink", "/usr/lib"),
    "up": _Node("symlink", "../../../../usr"),
    "loop": _Node("symlink", "loop"),
    "file": _Node("file"),
    "dangling": _Node("symlink", "/nowhere"),
}


def _disk(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for path, node in _TREE.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        if node.kind == "dir":
            full.mkdir(exist_ok=True)
        elif node.kind == "symlink":
            full.symlink_to(node.linkname)
        else:
            full.write_text("x")
    return root


CASES = [
    ("/abs/x.so", "usr/lib/x.so"),
    ("lib/x.so", "usr/lib/x.so"),
    ("up/lib/x.so", "usr/lib/x.so"),
    ("/../../lib/../lib/x.so", "usr/lib/x.so"),
    ("/", ""),
    ("dangling", None),
    ("usr/missing", None),
    ("loop", None),
    ("file/x", None),
    ("file/..", None),  # Linux: ENOTDIR
]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_a_view_and_a_directory_resolve_alike(
    tmp_path: Path, path: str, expected: str | None
) -> None:
    assert resolve_in_view(_TREE.get, path) == expected
    assert resolve_in_view(root_lookup(_disk(tmp_path)), path) == expected


def test_the_last_link_is_left_alone_when_asked() -> None:
    assert resolve_in_view(_TREE.get, "/abs", follow_last=False) == "abs"
    assert resolve_in_view(_TREE.get, "/lib/x.so", follow_last=False) == "usr/lib/x.so"


def test_writing_keeps_missing_components_and_refuses_what_cannot_be(tmp_path: Path) -> None:
    root = _disk(tmp_path)
    # what a COPY destination or WORKDIR needs: the place to create, inside the root
    assert resolve_in_root(root, "/dangling/sub") == root / "nowhere" / "sub"
    assert resolve_in_root(root, "/abs/new/dir") == root / "usr" / "lib" / "new" / "dir"
    # '..' after a file is applied lexically, as securejoin does
    assert resolve_in_root(root, "/file/../lib") == root / "usr" / "lib"
    with pytest.raises(InvalidArgument, match=r"/file in the image is not a directory"):
        resolve_in_root(root, "/file/x")
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        resolve_in_root(root, "/loop/x")
