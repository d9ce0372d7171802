"""The Differ: an overlayfs upper directory -> an OCI layer.

After a build step ran over an overlay mount, its upper dir holds exactly what changed:
new and modified files (copied up whole), directories, and overlayfs's own markers —
a character device 0:0 where something was deleted and the ``trusted.overlay.opaque``
xattr (``user.overlay.opaque`` when mounted with ``userxattr``, in a user namespace) on
a directory that replaced one of the same name. This module writes that tree
as a layer, turning the markers into OCI whiteouts (``.wh.<name>``, ``.wh..wh..opq``)
and keeping overlay's private xattrs out of it.

Hand-written: no library turns an overlayfs upper dir into an OCI layer. The walk and
the tar writer are :func:`tree_entries` and :func:`write_layer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

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

__all__ = ["OVERLAY_OPAQUE_XATTR", "USERNS_OVERLAY_OPAQUE_XATTR", "diff_upper", "upper_entries"]

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
