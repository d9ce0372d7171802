"""Paths inside an image's root filesystem, resolved as the container would see them.

A symlink in the rootfs is followed with the rootfs as ``/``: ``/usr/lib -> /lib`` goes to
``<root>/lib``, never the host's ``/lib``, and ``..`` stops at the root. COPY, ADD and
WORKDIR write through these resolutions, so an image cannot make the builder write
outside it. Hand-written (the field's library for this, filepath-securejoin, is Go); the
root is the builder's own overlay mount and nothing else changes it while a step
writes, so resolving then writing is not racy.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from imageforge.errors import InvalidArgument

__all__ = ["MAX_SYMLINKS", "mkdirs_in_root", "resolve_in_root"]

MAX_SYMLINKS = 40


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """``path`` (absolute or relative to ``/``) inside ``root`` with every symlink on the
    way resolved within ``root``. Missing components are kept as written. The last
    component is followed only if ``follow_last``."""
    todo = _split(path)
    todo.reverse()
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        last = not todo
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            done.append(part)
            continue
        except NotADirectoryError:
            raise InvalidArgument(
                f"{'/' + '/'.join(done)} in the image is not a directory (resolving {path!r})"
            ) from None
        if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
            links += 1
            if links > MAX_SYMLINKS:
                raise InvalidArgument(f"too many levels of symbolic links resolving {path!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo.extend(reversed(_split(target)))
            continue
        done.append(part)
    return Path(root, *done)


def mkdirs_in_root(root: Path, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Path:
    """Make directory ``path`` and its missing parents inside ``root`` (new ones get
    ``mode`` and ``uid:gid``, existing ones are left alone); the resolved host path."""
    current = "/"
    for part in _split(path):
        current = os.path.join(current, part)
        resolved = resolve_in_root(root, current)
        try:
            st = os.lstat(resolved)
        except FileNotFoundError:
            os.mkdir(resolved, mode)
            os.chown(resolved, uid, gid)
            os.chmod(resolved, mode)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(
                f"cannot create directory {path!r} in the image: {current!r} exists and "
                "is not a directory"
            )
    return resolve_in_root(root, path)
