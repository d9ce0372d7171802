"""Paths in an image rootfs resolve inside it, whatever its symlinks say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.layers import mkdirs_in_root, resolve_in_root


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "abs").symlink_to("/usr/lib")
    (root / "up").symlink_to("../../../../etc")
    (root / "loop").symlink_to("loop")
    (root / "file").write_text("x")
    return root


def test_absolute_symlinks_resolve_against_the_rootfs_not_the_host(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert resolve_in_root(root, "/abs/x.so") == root / "usr" / "lib" / "x.so"
    assert resolve_in_root(root, "lib/x.so") == root / "usr" / "lib" / "x.so"


def test_dotdot_and_climbing_links_stop_at_the_root(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert resolve_in_root(root, "/../../../etc/passwd") == root / "etc" / "passwd"
    assert resolve_in_root(root, "/up/passwd") == root / "etc" / "passwd"


def test_the_last_link_is_kept_when_asked(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert resolve_in_root(root, "/abs", follow_last=False) == root / "abs"


def test_symlink_loops_are_an_error(tmp_path: Path) -> None:
    root = _root(tmp_path)
    with pytest.raises(InvalidArgument, match="too many levels"):
        resolve_in_root(root, "/loop/x")


def test_mkdirs_creates_inside_through_links_and_refuses_files(tmp_path: Path) -> None:
    root = _root(tmp_path)
    made = mkdirs_in_root(root, "/up/app/data", mode=0o750, uid=1, gid=2)
    assert made == root / "etc" / "app" / "data"
    st = os.stat(made)
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o750, 1, 2)
    assert not (tmp_path / "etc").exists()
    with pytest.raises(InvalidArgument, match="not a directory"):
        mkdirs_in_root(root, "/file/sub")
