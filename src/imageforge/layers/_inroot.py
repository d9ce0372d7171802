"""Paths inside a root filesystem, resolved as a process chrooted into it would see them.

The one in-root resolver of imageforge. A symlink is followed with the root as ``/``:
``/usr/lib -> /lib`` goes to ``<root>/lib``, never the host's ``/lib``; ``..`` stops at
the root; more than :data:`MAX_SYMLINKS` links is a loop. These are the semantics of
filepath-securejoin (the Go library runc, BuildKit and buildah use), written here
because that library is Go.

The walk (:func:`resolve_in_view`) asks a *lookup* what each component is, so the same
code serves every view of a root filesystem:

- a directory on disk (:func:`root_lookup`, :func:`resolve_in_root`): the builder writes
  COPY, ADD and WORKDIR through it, bootstrap's tidy asks whether a link dangles;
- an image's merged layers (:class:`~imageforge.layers.FsView`), and the SBOM's
  file views, whose ``info`` is a lookup as it stands.

Resolving then writing is not racy for the builder: the root is its own overlay mount
and nothing else changes it while a step writes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from imageforge.errors import InvalidArgument

__all__ = [
    "MAX_SYMLINKS",
    "Lookup",
    "PathNode",
    "mkdirs_in_root",
    "resolve_in_root",
    "resolve_in_view",
    "root_lookup",
]

MAX_SYMLINKS: Final = 40
"""As Linux's MAXSYMLINKS: more links than this on one resolution is a loop."""


class PathNode(Protocol):
    """What a lookup says about one path (symlinks not followed): ``kind`` is ``"dir"``,
    ``"symlink"`` or anything else (``"file"``, ``"other"``); ``linkname`` a symlink's
    target as stored."""

    @property
    def kind(self) -> str: ...

    @property
    def linkname(self) -> str: ...


Lookup = Callable[[str], PathNode | None]
"""Describes a path relative to the root (``usr/lib``, never a leading ``/``; ``""`` is
never asked), or None when nothing is there."""


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _walk(lookup: Lookup, path: str, *, follow_last: bool, strict: bool) -> str | None:
    """The one walk. ``strict``: None when a component is missing, a non-directory has
    something below it, or the links loop. Otherwise missing components are kept as
    written, ``..`` after a non-directory is applied lexically (as securejoin does),
    and a loop or a path below a non-directory raises :class:`InvalidArgument`."""
    todo = _parts(path)
    todo.reverse()  # a stack: the next component last
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:
                done.pop()
            continue
        rel = "/".join([*done, part]) if done else part
        node = lookup(rel)
        if node is None:
            if strict:
                return None
            done.append(part)
            continue
        kind = node.kind
        if kind == "symlink" and (follow_last or todo):
            links += 1
            if links > MAX_SYMLINKS:
                if strict:
                    return None
                raise InvalidArgument(f"too many levels of symbolic links resolving {path!r}")
            target = node.linkname
            if target.startswith("/"):
                done = []
            todo.extend(reversed(_parts(target)))
            continue
        if todo and kind != "dir":
            if strict:
                return None
            if todo[-1] != "..":
                raise InvalidArgument(
                    f"/{rel} in the image is not a directory (resolving {path!r})"
                )
        done.append(part)
    return "/".join(done)


def resolve_in_view(lookup: Lookup, path: str, *, follow_last: bool = True) -> str | None:
    """``path`` (absolute or relative to the root) with every symlink on the way followed
    inside the view ``lookup`` describes: the resolved path relative to the root (``""``
    for the root itself), which names no symlink unless ``follow_last`` is false and the
    last component is one. None when a component is missing, something other than a
    directory has a path below it, or the links loop."""
    return _walk(lookup, path, follow_last=follow_last, strict=True)


@dataclass(frozen=True, slots=True)
class _OnDisk:
    kind: str
    linkname: str = ""


_DIR: Final = _OnDisk("dir")
_OTHER: Final = _OnDisk("other")


def root_lookup(root: Path) -> Lookup:
    """A directory on disk as a :data:`Lookup`: ``lstat`` below ``root``, never
    following a symlink."""

    def lookup(rel: str) -> PathNode | None:
        full = os.path.join(root, rel)
        try:
            mode = os.lstat(full).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(mode):
            return _OnDisk("symlink", os.readlink(full))
        return _DIR if stat.S_ISDIR(mode) else _OTHER

    return lookup


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """``path`` (absolute or relative to ``/``) inside the directory ``root`` with every
    symlink on the way resolved within ``root``. Missing components are kept as written
    (the caller is about to create them). The last component is followed only if
    ``follow_last``. A symlink loop or a path below a non-directory raises
    :class:`InvalidArgument`."""
    rel = _walk(root_lookup(root), path, follow_last=follow_last, strict=False)
    assert rel is not None  # only a strict walk answers None
    return Path(root, rel) if rel else Path(root)


def mkdirs_in_root(root: Path, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Path:
    """Make directory ``path`` and its missing parents inside ``root`` (new ones get
    ``mode`` and ``uid:gid``, existing ones are left alone); the resolved host path."""
    current = "/"
    for part in _parts(path):
        current = os.path.join(current, part)
        resolved = resolve_in_root(root, current)
        try:
            st = os.lstat(resolved)
        except FileNotFoundError:
            if not resolved.parent.is_dir():
                # A symlink on the way leads to a directory whose parents are missing
                # too (``/link -> /missing/dir``): made as Docker's copy makes them.
                mkdirs_in_root(
                    root, "/" + str(resolved.parent.relative_to(root)), mode=mode, uid=uid, gid=gid
                )
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
