"""What a cataloger may read: the files it asked for, from a directory or an image.

A :class:`Cataloger` first says which paths it wants (:meth:`Cataloger.wants`, given
the path and its :class:`FileInfo`, never the content); the SBOM run then reads every
wanted file of every cataloger together — for an image, in one pass per layer rather
than one per file — and hands each cataloger a :class:`Files` over its own selection.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from imageforge.errors import NotFound
from imageforge.sbom._model import Evidence

__all__ = ["DirFiles", "FileInfo", "Files", "Warn"]


class Warn(Protocol):
    """Reports a file that could not be used: ``warn("usr/lib/x/METADATA", "cause")``."""

    def __call__(self, path: str, message: str) -> None: ...


@dataclass(frozen=True)
class FileInfo:
    """A path's metadata: ``kind`` is ``"file"``, ``"dir"``, ``"symlink"`` or
    ``"other"``; ``linkname`` the target of a symlink; ``layer`` the digest of the
    layer the visible copy comes from (``None`` for a directory target)."""

    path: str
    kind: str
    mode: int
    size: int
    linkname: str = ""
    layer: str | None = None

    @property
    def executable(self) -> bool:
        return self.kind == "file" and bool(self.mode & 0o111)


class Files(Protocol):
    """Read access to a filesystem view. Paths are relative to its root, ``/``-separated,
    without a leading ``/`` (``var/lib/dpkg/status``)."""

    def paths(self) -> Iterable[str]:
        """Every path of the view (all kinds), in no particular order."""
        ...

    def info(self, path: str) -> FileInfo | None:
        """The path's metadata, or ``None`` when it does not exist. Symlinks are not
        followed."""
        ...

    def read(self, path: str) -> bytes:
        """The content of regular file ``path``; :class:`~imageforge.errors.NotFound`
        when it is not a regular file of the view."""
        ...

    def open(self, path: str) -> BinaryIO:
        """The content of regular file ``path`` as a seekable binary stream (for big
        files: archives, binaries)."""
        ...

    def evidence(self, path: str) -> Evidence:
        """The :class:`Evidence` naming ``path`` and its layer."""
        ...


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


class DirFiles:
    """:class:`Files` over a directory on disk. Symlinks are never followed, so a link
    pointing outside the root reads nothing outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._plain: dict[str, bool] = {}  # parent dir -> no symlink on the way to it

    def _plain_dir(self, parent: str) -> bool:
        """Whether ``parent`` (under the root) is reached without a symlink; answered
        once per directory (a catalog asks about every path)."""
        known = self._plain.get(parent)
        if known is None:
            real = os.path.realpath(parent)
            known = real == parent
            if not known:
                rel = os.path.relpath(parent, self.root)
                known = real == os.path.normpath(os.path.join(os.path.realpath(self.root), rel))
            self._plain[parent] = known
        return known

    def paths(self) -> Iterator[str]:
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in dirnames:
                yield prefix + name
            for name in filenames:
                yield prefix + name

    def _path(self, path: str) -> Path:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise NotFound(f"{path!r} is outside the directory")
        return self.root.joinpath(*parts)

    def info(self, path: str) -> FileInfo | None:
        try:
            full = self._path(path)
            st = full.lstat()
        except (OSError, NotFound):
            return None
        # lstat follows symlinks in the parents: a path below a symlinked directory
        # (``etc -> /etc``) is not a path of this view.
        if not self._plain_dir(str(full.parent)):
            return None
        kind = _kind(st.st_mode)
        link = os.readlink(self._path(path)) if kind == "symlink" else ""
        return FileInfo(path, kind, stat.S_IMODE(st.st_mode), st.st_size, link)

    def _regular(self, path: str) -> Path:
        info = self.info(path)
        if info is None or info.kind != "file":
            raise NotFound(f"{path!r} is not a regular file of {self.root}")
        return self._path(path)

    def read(self, path: str) -> bytes:
        return self._regular(path).read_bytes()

    def open(self, path: str) -> BinaryIO:
        fd = os.open(self._regular(path), os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(fd, "rb")

    def evidence(self, path: str) -> Evidence:
        return Evidence(path)
