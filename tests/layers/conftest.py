"""Fixtures for layer tests: a tree with every kind of entry, and a snapshot of a tree."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest


def make_tree(root: Path) -> Path:
    """Regular files (modes 4755 and 0600), an empty dir, nested dirs, a symlink, a
    hardlink, a fifo."""
    root.mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    os.chmod(root / "bin" / "tool", 0o4755)
    (root / "secret").write_bytes(b"s3cret\n")
    os.chmod(root / "secret", 0o600)
    (root / "empty").mkdir()
    (root / "deep" / "er" / "est").mkdir(parents=True)
    (root / "deep" / "er" / "est" / "big").write_bytes(os.urandom(300_000))
    os.link(root / "bin" / "tool", root / "deep" / "hard")
    os.symlink("../bin/tool", root / "deep" / "link")
    os.mkfifo(root / "fifo")
    return root


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a layer must carry about each path (not directory mtimes of the root)."""
    out: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            st = full.lstat()
            kind = stat.S_IFMT(st.st_mode)
            extra: object = None
            if stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(full.read_bytes()).hexdigest()
                if st.st_nlink > 1:
                    extra = (extra, inodes.setdefault(st.st_ino, rel))
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(full)
            mode = stat.S_IMODE(st.st_mode)
            out[rel] = (kind, mode, st.st_uid, st.st_gid, int(st.st_mtime), extra)
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree")
