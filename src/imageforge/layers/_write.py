"""Writing a layer in one pass: tar (PAX) -> compressor -> destination, hashing the tar
(diff_id) and the compressed bytes (digest) on the way."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from imageforge.errors import Conflict, InvalidArgument
from imageforge.layers._compression import CHUNK, Readable, Writable, new_compressor
from imageforge.layers._model import (
    COMPRESSIONS,
    Compression,
    Entry,
    EntryType,
    LayerInfo,
    media_type_for,
    normalize_path,
)
from imageforge.layers._tarheader import pax_header
from imageforge.oci import Digest, new_hasher

__all__ = [
    "ContentSource",
    "source_date_epoch",
    "tree_entries",
    "write_layer",
    "write_layer_from_dir",
]

ContentSource = bytes | Readable | None
"""A regular file's content: bytes, or a reader giving at least ``Entry.size`` bytes."""

_BLOCK: Final = 512


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int | None:
    """``$SOURCE_DATE_EPOCH`` as an mtime clamp (reproducible-builds.org), or None."""
    value = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidArgument(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds",
            hint="set it to a Unix time such as $(git log -1 --format=%ct)",
        )
    return int(value)


class _Sink:
    """Hashes and counts the tar, compresses it, hashes and counts the output."""

    def __init__(self, dst: Writable, compression: Compression, level: int | None) -> None:
        self._dst = dst
        self._compressor = new_compressor(compression, level)
        self._diff = new_hasher("sha256")
        self._blob = new_hasher("sha256")
        self._out = bytearray()
        self.uncompressed_size = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self._diff.update(data)
        self.uncompressed_size += len(data)
        out = self._compressor.compress(data)
        if out:
            self._out += out
            if len(self._out) >= CHUNK:
                self._flush()

    def _flush(self) -> None:
        if self._out:
            data = bytes(self._out)
            self._out.clear()
            self._blob.update(data)
            self.size += len(data)
            self._dst.write(data)

    def finish(self) -> tuple[Digest, Digest]:
        self._out += self._compressor.flush()
        self._flush()
        return (
            Digest.from_hex("sha256", self._blob.hexdigest()),
            Digest.from_hex("sha256", self._diff.hexdigest()),
        )


def _header(entry: Entry, mtime_clamp: int | None) -> bytes:
    path = normalize_path(entry.path, what="layer being written")
    kind = entry.type
    linkname = ""
    if kind is EntryType.HARDLINK:
        linkname = normalize_path(entry.linkname, what=f"hardlink {path}")
    elif kind is EntryType.SYMLINK:
        if not entry.linkname:
            raise InvalidArgument(f"symlink {path!r} has an empty target")
        linkname = entry.linkname
    device = kind is EntryType.CHAR or kind is EntryType.BLOCK
    return pax_header(
        path,
        kind.value,
        mode=entry.mode,
        uid=entry.uid,
        gid=entry.gid,
        size=entry.size if kind is EntryType.FILE else 0,
        mtime=entry.mtime if mtime_clamp is None else min(entry.mtime, mtime_clamp),
        linkname=linkname,
        devmajor=entry.devmajor if device else 0,
        devminor=entry.devminor if device else 0,
        xattrs={
            key: value.decode("utf-8", "surrogateescape")
            for key, value in sorted(entry.xattrs.items())
        }
        if entry.xattrs
        else None,
    )


def _copy_content(sink: _Sink, entry: Entry, content: ContentSource) -> None:
    if isinstance(content, bytes):
        if len(content) != entry.size:
            raise InvalidArgument(
                f"{entry.path}: {len(content)} bytes of content for an entry of size {entry.size}"
            )
        sink.write(content)
    elif entry.size:
        if content is None:
            raise InvalidArgument(f"{entry.path}: no content for a file of size {entry.size}")
        left = entry.size
        while left:
            chunk = content.read(min(CHUNK, left))
            if not chunk:
                raise Conflict(
                    f"{entry.path}: content ended {left} bytes short of its size {entry.size}",
                    hint="the file changed while the layer was written; write it again",
                )
            sink.write(chunk)
            left -= len(chunk)
    pad = -entry.size % _BLOCK
    if pad:
        sink.write(b"\0" * pad)


def write_layer(
    entries: Iterable[tuple[Entry, ContentSource]],
    dst: Writable,
    *,
    compression: Compression = "gzip",
    level: int | None = None,
    mtime_clamp: int | None = None,
) -> LayerInfo:
    """Write ``entries`` (in the order given) as a PAX tar, compressed, into ``dst``.

    ``dst`` is anything with ``write(bytes)`` that writes everything it is given (an
    open file, a store ingest). Each FILE entry comes with its content (bytes or a
    reader); other entries with None. mtimes later than ``mtime_clamp`` are clamped.
    The tar is never held in memory; digests and sizes are computed in the same pass.
    If an error is raised, ``dst`` holds an incomplete layer that must be discarded.
    """
    if compression not in COMPRESSIONS:
        raise InvalidArgument(
            f"unknown compression {compression!r}", hint=f"use one of {', '.join(COMPRESSIONS)}"
        )
    sink = _Sink(dst, compression, level)
    for entry, content in entries:
        sink.write(_header(entry, mtime_clamp))
        if entry.type is EntryType.FILE:
            _copy_content(sink, entry, content)
    sink.write(b"\0" * (2 * _BLOCK))
    digest, diff_id = sink.finish()
    return LayerInfo(
        digest, diff_id, sink.size, sink.uncompressed_size, media_type_for(compression)
    )


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
        return {n: os.getxattr(path, n, follow_symlinks=False) for n in sorted(names)}
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA):
            return {}
        raise


def tree_entries(
    root: str | os.PathLike[str], *, xattrs: bool = False
) -> Iterator[tuple[Entry, ContentSource]]:
    """The entries of a directory tree, for :func:`write_layer`: sorted by name within
    each directory, every directory before its children, the root itself left out,
    numeric owners, whole-second mtimes, a second path to an inode as a hardlink to the
    first. Sockets are skipped (tar cannot hold them). Files are opened one at a time,
    never following a symlink, and closed when the next entry is asked for."""
    top = os.fspath(root)
    seen: dict[tuple[int, int], str] = {}
    stack: list[Iterator[str]] = [iter(sorted(os.listdir(top)))]
    prefixes = [""]
    while stack:
        name = next(stack[-1], None)
        if name is None:
            stack.pop()
            prefixes.pop()
            continue
        rel = prefixes[-1] + name
        full = os.path.join(top, rel)
        st = os.lstat(full)
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            continue
        # One Entry per path, made once: this loop runs for every file of every layer.
        kind = EntryType.FILE
        linkname = ""
        size = devmajor = devminor = 0
        content: ContentSource = None
        if stat.S_ISDIR(mode):
            kind = EntryType.DIR
        elif st.st_nlink > 1 and (st.st_dev, st.st_ino) in seen:
            kind = EntryType.HARDLINK
            linkname = seen[(st.st_dev, st.st_ino)]
        elif stat.S_ISREG(mode):
            size = st.st_size
        elif stat.S_ISLNK(mode):
            kind = EntryType.SYMLINK
            linkname = os.readlink(full)
        elif stat.S_ISFIFO(mode):
            kind = EntryType.FIFO
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = EntryType.CHAR if stat.S_ISCHR(mode) else EntryType.BLOCK
            devmajor, devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            continue
        if st.st_nlink > 1 and kind is not EntryType.DIR and kind is not EntryType.HARDLINK:
            seen[(st.st_dev, st.st_ino)] = rel
        entry = Entry(
            rel,
            kind,
            stat.S_IMODE(mode),
            st.st_uid,
            st.st_gid,
            size,
            int(st.st_mtime),
            linkname,
            devmajor,
            devminor,
            _xattrs(full) if xattrs else {},
        )
        if kind is EntryType.FILE:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with open(fd, "rb", buffering=0, closefd=True) as f:
                yield entry, f
            continue
        yield entry, content
        if kind is EntryType.DIR:
            stack.append(iter(sorted(os.listdir(full))))
            prefixes.append(rel + "/")


def write_layer_from_dir(
    root: str | os.PathLike[str],
    dst: Writable,
    *,
    compression: Compression = "gzip",
    level: int | None = None,
    mtime_clamp: int | None = None,
    xattrs: bool = False,
) -> LayerInfo:
    """Write the tree under ``root`` as a layer into ``dst`` (see :func:`tree_entries`
    for what goes in, :func:`write_layer` for the options); one pass, streaming."""
    return write_layer(
        tree_entries(root, xattrs=xattrs),
        dst,
        compression=compression,
        level=level,
        mtime_clamp=mtime_clamp,
    )
