"""The Differ: an overlayfs upper directory -> an OCI layer.

After a build step ran over an overlay mount, its upper dir holds exactly what changed:
new and modified files (copied up whole), directories, and overlayfs's own markers —
a character device 0:0 where something was deleted and the ``trusted.overlay.opaque``
xattr (``user.overlay.opaque`` when mounted with ``userxattr``, in a user namespace) on
a directory that replaced one of the same name. This module writes that tree
as a layer, turning the markers into OCI whiteouts (``.wh.<name>``, ``.wh..wh..opq``)
and keeping overlay's private xattrs out of it.

Before that, :meth:`OverlayDiffer.drop_unchanged` removes from the upper dir what is no
change of the step's own: empty stand-ins the runtime made for its mount points, and
directories overlayfs copied up without a change (a file made and deleted in them). The
committed snapshot is the upper dir as it is then, so it and the layer agree.

:class:`Differ` is the seam (containerd's diff ``Comparer``); :class:`OverlayDiffer` its
implementation here, with the contract suite ``imageforge.testing.DifferContract``.

Hand-written: no library turns an overlayfs upper dir into an OCI layer. The walk and
the tar writer are :func:`tree_entries` and :func:`write_layer`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from imageforge.errors import Unsupported
from imageforge.layers._compression import Writable
from imageforge.layers._model import Compression, Entry, EntryType, LayerInfo
from imageforge.layers._whiteout import (
    OVERLAY_OPAQUE_XATTR,
    OVERLAY_XATTR_PREFIXES,
    USERNS_OVERLAY_OPAQUE_XATTR,
    opaque_whiteout_entry,
    whiteout_entry,
)
from imageforge.layers._write import ContentSource, tree_entries, write_layer

__all__ = [
    "OVERLAY_OPAQUE_XATTR",
    "USERNS_OVERLAY_OPAQUE_XATTR",
    "Differ",
    "OverlayDiffer",
    "diff_upper",
    "upper_entries",
]

_UNUSABLE = tuple(p + n for p in OVERLAY_XATTR_PREFIXES for n in ("redirect", "metacopy"))
_OPAQUE = (OVERLAY_OPAQUE_XATTR, USERNS_OVERLAY_OPAQUE_XATTR)


def _is_whiteout(entry: Entry) -> bool:
    return entry.type is EntryType.CHAR and entry.devmajor == 0 and entry.devminor == 0


def upper_entries(upper: str | Path) -> Iterator[tuple[Entry, ContentSource]]:
    """The layer entries of an overlay upper dir, markers turned into whiteouts. (Mount
    points a runtime left behind are the caller's to remove from the upper first: the
    builder does, so its committed snapshot holds none either.)"""
    whiteouts: set[str] = set()
    for entry, content in tree_entries(upper, xattrs=True):
        for name in _UNUSABLE:
            if name in entry.xattrs:
                raise Unsupported(
                    f"{entry.path}: the overlay upper dir uses {name}; mount the overlay "
                    "with redirect_dir=off,metacopy=off so it can become a layer"
                )
        opaque = any(entry.xattrs.get(name) == b"y" for name in _OPAQUE)
        kept = {k: v for k, v in entry.xattrs.items() if not k.startswith(OVERLAY_XATTR_PREFIXES)}
        if kept != dict(entry.xattrs):
            entry = replace(entry, xattrs=kept)
        if _is_whiteout(entry) or (
            entry.type is EntryType.HARDLINK and entry.linkname in whiteouts
        ):
            # overlayfs makes every whiteout a hard link to one shared 0:0 inode
            whiteouts.add(entry.path)
            yield whiteout_entry(entry.path, mtime=entry.mtime), None
            continue
        yield entry, content
        if entry.type is EntryType.DIR and opaque:
            yield opaque_whiteout_entry(entry.path, mtime=entry.mtime), None


def diff_upper(
    upper: str | Path,
    dst: Writable,
    *,
    compression: Compression = "gzip",
    level: int | None = None,
    mtime_clamp: int | None = None,
) -> LayerInfo:
    """Write the layer an overlay upper dir stands for into ``dst`` (see
    :func:`upper_entries`); one pass, digests computed as it goes. ``level``: the
    compression level (default: the compressor's, see :func:`new_compressor`)."""
    return write_layer(
        upper_entries(upper),
        dst,
        compression=compression,
        level=level,
        mtime_clamp=mtime_clamp,
    )


def _is_empty_dir(path: Path) -> bool:
    with os.scandir(path) as entries:  # closed even when it stops at the first entry
        return next(entries, None) is None


def _drop_stand_ins(upper: Path, made: Sequence[str]) -> None:
    """Remove what the runtime made in place of a missing mount point, if still empty."""
    for rel in made:  # files first (etc/hosts), then their dirs (etc)
        path = upper / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(path)
        elif stat.S_ISDIR(st.st_mode) and _is_empty_dir(path):
            os.rmdir(path)


def _opaque(path: Path) -> bool:
    for name in _OPAQUE:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def _drop_unchanged_dirs(upper: Path, lowers: Sequence[Path]) -> None:
    """Remove empty directories overlayfs copied up without a change of their own (a
    file made and deleted in them, a runtime stand-in removed): same type, mode and
    owner as in the topmost lower that has them, and not opaque."""
    for dirpath, dirnames, filenames in os.walk(upper, topdown=False):
        path = Path(dirpath)
        if (
            path == upper
            or filenames
            or any((path / d).exists() or (path / d).is_symlink() for d in dirnames)
        ):
            continue
        if _opaque(path):
            continue
        rel = path.relative_to(upper)
        st = os.lstat(path)
        for lower in lowers:
            candidate = lower / rel
            try:
                lst = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if (
                stat.S_ISDIR(lst.st_mode)
                and stat.S_IMODE(lst.st_mode) == stat.S_IMODE(st.st_mode)
                and (lst.st_uid, lst.st_gid) == (st.st_uid, st.st_gid)
            ):
                os.rmdir(path)
            break


class Differ(Protocol):
    """What one step changed -> a layer. ``upper`` holds the step's changes over its
    ``lowers`` (the directories of the layers below, topmost first), no longer mounted."""

    def drop_unchanged(
        self, upper: Path, lowers: Sequence[Path], *, stand_ins: Sequence[str] = ()
    ) -> bool:
        """Remove from ``upper`` what is not a change of the step's own -- the paths in
        ``stand_ins`` (mount points the runtime made, deepest first) while they are
        empty, directories copied up unchanged -- and say whether any change is left."""
        ...

    def compare(
        self,
        upper: Path,
        dst: Writable,
        *,
        compression: Compression = "gzip",
        level: int | None = None,
        mtime_clamp: int | None = None,
    ) -> LayerInfo:
        """Write the layer ``upper`` stands for into ``dst``; its digests and sizes."""
        ...


class OverlayDiffer:
    """The :class:`Differ` of overlayfs upper dirs (``trusted.overlay.*`` markers, or
    ``user.overlay.*`` ones under ``userxattr``)."""

    def drop_unchanged(
        self, upper: Path, lowers: Sequence[Path], *, stand_ins: Sequence[str] = ()
    ) -> bool:
        _drop_stand_ins(upper, stand_ins)
        _drop_unchanged_dirs(upper, lowers)
        return not _is_empty_dir(upper)

    def compare(
        self,
        upper: Path,
        dst: Writable,
        *,
        compression: Compression = "gzip",
        level: int | None = None,
        mtime_clamp: int | None = None,
    ) -> LayerInfo:
        return diff_upper(upper, dst, compression=compression, level=level, mtime_clamp=mtime_clamp)
