"""Reading a layer in one pass: decompress, parse tar headers, hash both streams and
verify the blob digest, all while the caller walks the entries."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from typing import IO, Final, NamedTuple, cast

from imageforge.errors import InvalidArgument, Unsupported
from imageforge.layers._compression import (
    CHUNK,
    DecompressingReader,
    Readable,
    open_decompressed,
)
from imageforge.layers._model import Compression, Entry, EntryType, LayerInfo, media_type_for
from imageforge.layers._model import normalize_path as _normalize
from imageforge.oci import Digest, Hasher, VerifyingReader, new_hasher

__all__ = ["LayerReader", "open_layer"]

_BLOCK: Final = 512
_MAX_META: Final = 16 << 20  # PAX / GNU long-name headers larger than this are refused
# What an entry's numbers may be: Linux ids and device numbers are unsigned 32-bit,
# and a time is set in int64 nanoseconds (years 1678..2262).
_MAX_ID: Final = (1 << 32) - 1
_MAX_DEV: Final = (1 << 32) - 1
_MAX_SECONDS: Final = ((1 << 63) - 1) // 1_000_000_000
_TYPES: Final = {
    tarfile.REGTYPE: EntryType.FILE,
    tarfile.AREGTYPE: EntryType.FILE,
    tarfile.CONTTYPE: EntryType.FILE,
    tarfile.DIRTYPE: EntryType.DIR,
    tarfile.SYMTYPE: EntryType.SYMLINK,
    tarfile.LNKTYPE: EntryType.HARDLINK,
    tarfile.CHRTYPE: EntryType.CHAR,
    tarfile.BLKTYPE: EntryType.BLOCK,
    tarfile.FIFOTYPE: EntryType.FIFO,
}


class _Header(NamedTuple):
    """The fields of a tar header the reader uses."""

    name: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    type: bytes
    linkname: str
    devmajor: int
    devminor: int


_NUMBERS: Final = (
    (100, 108),
    (108, 116),
    (116, 124),
    (124, 136),
    (136, 148),
    (329, 337),
    (337, 345),
)


def _nts(field: bytes) -> str:
    end = field.find(b"\0")
    return (field if end < 0 else field[:end]).decode("utf-8", "surrogateescape")


def _fast_header(block: bytes) -> _Header | None:
    """Decode a plain ustar/GNU header (octal numbers, unsigned checksum) the way
    ``tarfile.TarInfo.frombuf`` does, several times faster (headers dominate the time
    of reading a layer of many small files); None for anything else (base-256 numbers,
    a checksum only the signed sum matches, a bad header), which ``tarfile`` decodes."""
    try:
        mode, uid, gid, size, mtime, devmajor, devminor = (
            int(block[a:b].split(b"\0", 1)[0].strip() or b"0", 8) for a, b in _NUMBERS
        )
        checksum = int(block[148:156].split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None
    if checksum != sum(block) - sum(block[148:156]) + 256:  # the field counts as spaces
        return None
    kind = block[156:157]
    name = _nts(block[0:100])
    if kind == tarfile.AREGTYPE and name.endswith("/"):  # a V7 directory
        kind = tarfile.DIRTYPE
    if kind == tarfile.DIRTYPE:
        name = name.rstrip("/")
    prefix = _nts(block[345:500])
    if prefix and kind not in tarfile.GNU_TYPES:
        name = prefix + "/" + name
    linkname = _nts(block[157:257])
    return _Header(name, mode, uid, gid, size, mtime, kind, linkname, devmajor, devminor)


def _slow_header(block: bytes) -> _Header:
    info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    return _Header(
        info.name,
        info.mode,
        info.uid,
        info.gid,
        info.size,
        int(info.mtime),
        info.type,
        info.linkname,
        info.devmajor,
        info.devminor,
    )


class _Hashing:
    """Passes reads through, hashing and counting them."""

    def __init__(self, raw: Readable, algorithm: str = "sha256") -> None:
        self._raw = raw
        self.algorithm = algorithm
        self.hasher: Hasher = new_hasher(algorithm)
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._raw.read(n)
        if data:
            self.hasher.update(data)
            self.count += len(data)
        return data

    def digest(self) -> Digest:
        return Digest.from_hex(self.algorithm, self.hasher.hexdigest())


def _pax_records(data: bytes, what: str) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the last record
            break
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise InvalidArgument(f"{what}: malformed PAX header record") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise InvalidArgument(f"{what}: malformed PAX header record")
        key, _, value = record[:-1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class LayerReader:
    """The entries of one layer, read in a single pass.

    Iterate to get :class:`Entry` objects; while an entry is current,
    :meth:`read` returns its content. When iteration ends the rest of the stream is
    drained, the blob is checked against ``expected`` (:class:`DigestMismatch` if it
    differs) and :attr:`info` holds the digests and sizes. :meth:`finish` does the same
    for a caller that stops early. A malformed tar or a damaged compressed stream raises
    :class:`InvalidArgument` naming the layer.
    """

    def __init__(
        self,
        raw: Readable,
        *,
        name: str = "layer",
        expected: Digest | str | None = None,
        size: int | None = None,
        media_type: str | None = None,
        compression: Compression | None = None,
    ) -> None:
        self.name = name
        self._what = f"layer {name}"
        src: Readable = raw
        algorithm = "sha256"
        if expected is not None:
            verifying = VerifyingReader(cast(IO[bytes], raw), expected, size, what=self._what)
            algorithm = verifying.expected.algorithm
            src = verifying
        self._blob = _Hashing(src, algorithm)
        self._decompressed: DecompressingReader = open_decompressed(
            self._blob, media_type=media_type, compression=compression, what=self._what
        )
        self._tar = _Hashing(self._decompressed)
        self._media_type = media_type or media_type_for(self._decompressed.compression)
        self._left = 0  # content bytes of the current entry not yet read
        self._pad = 0
        self._offset = 0  # of the next header in the tar stream
        self._gen: Iterator[Entry] | None = None
        self._global: dict[str, str] = {}
        self.info: LayerInfo | None = None
        self._owned: IO[bytes] | None = None

    # -- raw tar stream ---------------------------------------------------------------
    def _read_exact(self, n: int, context: str) -> bytes:
        parts = []
        left = n
        while left:
            chunk = self._tar.read(min(left, CHUNK))
            if not chunk:
                raise InvalidArgument(
                    f"{self._what}: tar stream is truncated ({context})",
                    hint="the layer blob is incomplete; fetch it again",
                )
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        while n:
            chunk = self._tar.read(min(n, CHUNK))
            if not chunk:
                raise InvalidArgument(f"{self._what}: tar stream is truncated inside an entry")
            n -= len(chunk)

    def _meta(self, info: _Header) -> bytes:
        if info.size > _MAX_META:
            raise InvalidArgument(f"{self._what}: tar metadata header of {info.size} bytes")
        data = self._read_exact(info.size + (-info.size % _BLOCK), "in a PAX header")
        return data[: info.size]

    # -- entries ------------------------------------------------------------------------
    def _next_entry(self) -> Entry | None:
        pax: dict[str, str] = {}
        long_name: str | None = None
        long_link: str | None = None
        while True:
            offset = self._tar.count
            block = self._tar.read(_BLOCK)
            while block and len(block) < _BLOCK:
                more = self._tar.read(_BLOCK - len(block))
                if not more:
                    break
                block += more
            if not block:
                return None  # no end-of-archive blocks: accepted, as tar does
            if len(block) < _BLOCK:
                raise InvalidArgument(f"{self._what}: tar stream is truncated in a header")
            if block == b"\0" * _BLOCK:
                return None
            try:
                info = _fast_header(block) or _slow_header(block)
            except tarfile.HeaderError as exc:
                raise InvalidArgument(
                    f"{self._what}: invalid tar header at offset {offset}: {exc}",
                    hint="the layer is not a tar archive or is corrupted",
                ) from None
            if info.size < 0:  # octal "-1" or a negative base-256 number
                raise InvalidArgument(
                    f"{self._what}: invalid tar header at offset {offset}: "
                    f"negative size {info.size}",
                    hint="the layer is not a tar archive or is corrupted",
                )
            kind = info.type
            if kind in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
                pax.update(_pax_records(self._meta(info), self._what))
            elif kind == tarfile.XGLTYPE:
                self._global.update(_pax_records(self._meta(info), self._what))
            elif kind == tarfile.GNUTYPE_LONGNAME:
                long_name = self._meta(info).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == tarfile.GNUTYPE_LONGLINK:
                long_link = self._meta(info).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            else:
                return self._entry(info, {**self._global, **pax}, long_name, long_link)

    def _entry(
        self,
        info: _Header,
        pax: dict[str, str],
        long_name: str | None,
        long_link: str | None,
    ) -> Entry:
        raw_name = pax.get("path", long_name if long_name is not None else info.name)
        etype = _TYPES.get(info.type)
        if etype is None or any(k.startswith("GNU.sparse.") for k in pax):
            raise Unsupported(
                f"{self._what}: entry {raw_name!r} has tar type {info.type!r} "
                "(sparse, volume or vendor types are not layer content)",
            )
        path = _normalize(raw_name, what=self._what)
        linkname = pax.get("linkpath", long_link if long_link is not None else info.linkname)
        if etype is EntryType.HARDLINK:
            linkname = _normalize(linkname, what=f"{self._what}: hardlink {path!r}")
        try:
            size = int(pax.get("size", info.size))
            uid = int(pax.get("uid", info.uid))
            gid = int(pax.get("gid", info.gid))
            mtime = int(float(pax.get("mtime", info.mtime)))
        except (ValueError, OverflowError):  # OverflowError: an mtime of "inf" or 1e999
            raise InvalidArgument(
                f"{self._what}: entry {path!r} has a malformed PAX number"
            ) from None
        if size < 0:
            raise InvalidArgument(f"{self._what}: entry {path!r} has a negative size")
        self._check_ranges(path, uid, gid, mtime, info)
        xattrs = {
            key[len("SCHILY.xattr.") :]: value.encode("utf-8", "surrogateescape")
            for key, value in pax.items()
            if key.startswith("SCHILY.xattr.")
        }
        data_size = size if etype is EntryType.FILE else 0
        self._left = data_size
        self._pad = -data_size % _BLOCK
        return Entry(
            path=path,
            type=etype,
            mode=info.mode & 0o7777,
            uid=uid,
            gid=gid,
            size=data_size,
            mtime=mtime,
            linkname=linkname if etype in (EntryType.SYMLINK, EntryType.HARDLINK) else "",
            devmajor=info.devmajor,
            devminor=info.devminor,
            xattrs=xattrs,
        )

    def _check_ranges(self, path: str, uid: int, gid: int, mtime: int, info: _Header) -> None:
        """Refuse numbers no file can have: tar (base-256, PAX) can spell any integer, but
        extraction hands them to chown, utime and mknod, which raise OverflowError."""
        for field, value, low, high in (
            ("uid", uid, 0, _MAX_ID),
            ("gid", gid, 0, _MAX_ID),
            ("mtime", mtime, -_MAX_SECONDS, _MAX_SECONDS),
            ("devmajor", info.devmajor, 0, _MAX_DEV),
            ("devminor", info.devminor, 0, _MAX_DEV),
        ):
            if not low <= value <= high:
                raise InvalidArgument(
                    f"{self._what}: entry {path!r} has {field} {value}, outside {low}..{high}",
                    hint="the layer is malformed or hostile; do not use it",
                )

    def __iter__(self) -> Iterator[Entry]:
        if self._gen is not None:
            raise InvalidArgument(f"{self._what}: a layer can be iterated only once")
        self._gen = self._entries()
        return self._gen

    def _entries(self) -> Iterator[Entry]:
        while True:
            self._skip(self._left + self._pad)
            self._left = self._pad = 0
            entry = self._next_entry()
            if entry is None:
                break
            yield entry
        self._finalize()

    def read(self, n: int = -1, /) -> bytes:
        """Content of the current entry: at most ``n`` bytes, b"" at its end; with
        ``n < 0`` all that is left of it (as ``io`` reads to EOF), never a short read."""
        if n < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        if n > self._left:
            n = self._left
        if n == 0:
            return b""
        data = self._tar.read(n)
        if not data:
            raise InvalidArgument(f"{self._what}: tar stream is truncated inside an entry")
        self._left -= len(data)
        return data

    def finish(self) -> LayerInfo:
        """Read to the end, verify the digest, and return what the pass learned."""
        if self.info is None:
            for _ in self._gen if self._gen is not None else iter(self):
                pass
        return self._finalize()

    def _finalize(self) -> LayerInfo:
        if self.info is None:
            while self._tar.read(CHUNK):
                pass  # padding after the end-of-archive blocks is part of the diff_id
            # The decompressor read the blob to its end: a VerifyingReader has checked it.
            self.info = LayerInfo(
                digest=self._blob.digest(),
                diff_id=self._tar.digest(),
                size=self._blob.count,
                uncompressed_size=self._tar.count,
                media_type=self._media_type,
            )
        return self.info

    def close(self) -> None:
        """Close the file :func:`open_layer` opened (a caller's reader stays open)."""
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> LayerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_layer(
    source: str | os.PathLike[str] | Readable,
    *,
    name: str | None = None,
    expected: Digest | str | None = None,
    size: int | None = None,
    media_type: str | None = None,
    compression: Compression | None = None,
) -> LayerReader:
    """A :class:`LayerReader` over a layer file (closed with the reader) or an open binary
    reader (left open). ``name`` (default: the file name or the expected digest) is how
    errors refer to the layer."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        f = open(path, "rb")  # closed by the reader
        label = name or (str(expected) if expected else path)
        try:
            reader = LayerReader(
                f,
                name=label,
                expected=expected,
                size=size,
                media_type=media_type,
                compression=compression,
            )
        except BaseException:
            f.close()
            raise
        reader._owned = f
        return reader
    label = name or (str(expected) if expected else "layer")
    return LayerReader(
        source,
        name=label,
        expected=expected,
        size=size,
        media_type=media_type,
        compression=compression,
    )
