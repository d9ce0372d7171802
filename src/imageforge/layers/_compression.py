"""Streaming (de)compression of layer blobs: gzip through ``zlib``, zstd through
``zstandard``, or plain tar. Everything works in bounded chunks; a layer is never held
in memory."""

from __future__ import annotations

import zlib
from typing import Final, Protocol

import zstandard

from imageforge.errors import InvalidArgument
from imageforge.layers._model import COMPRESSIONS, Compression
from imageforge.oci import media

__all__ = [
    "CHUNK",
    "Compressor",
    "DecompressingReader",
    "Readable",
    "Writable",
    "detect_compression",
    "new_compressor",
    "open_decompressed",
]

CHUNK: Final = 1 << 20
"""Bytes per read or write: large enough for throughput, small enough for memory."""
# Compressed input is fed to zstd in small pieces because a zstd decompress call
# returns all its output at once: 4 KiB of hostile input expands to at most ~128 MiB.
_ZSTD_IN: Final = 4096
_OUT: Final = 256 << 10  # decompressed bytes asked of zlib per call, at least
GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


def detect_compression(head: bytes) -> Compression:
    """Compression of a blob from its first bytes (gzip and zstd magic); else ``none``."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Identity:
    def compress(self, data: bytes, /) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def new_compressor(compression: Compression, level: int | None = None) -> Compressor:
    """A streaming compressor. gzip output has mtime 0 and no file name in its header,
    so equal input gives equal bytes; the default gzip level is 6 (as ``gzip``), zstd 3."""
    if compression == "gzip":
        lvl = 6 if level is None else level
        if not 0 <= lvl <= 9:
            raise InvalidArgument(f"gzip level {lvl} is out of range", hint="use 0 to 9")
        # wbits 31: a gzip wrapper whose header zlib writes with mtime 0 and no name.
        obj: Compressor = zlib.compressobj(lvl, zlib.DEFLATED, 31)
        return obj
    if compression == "zstd":
        lvl = 3 if level is None else level
        if not -7 <= lvl <= 22:
            raise InvalidArgument(f"zstd level {lvl} is out of range", hint="use 1 to 22")
        zobj: Compressor = zstandard.ZstdCompressor(level=lvl).compressobj()
        return zobj
    if compression == "none":
        return _Identity()
    raise InvalidArgument(
        f"unknown compression {compression!r}", hint=f"use one of {', '.join(COMPRESSIONS)}"
    )


class DecompressingReader:
    """A binary reader of the uncompressed tar inside a layer blob.

    Concatenated gzip members and zstd frames are read as one stream (as ``gzip -dc``
    does). A stream that ends inside a member or frame, or has trailing bytes that are
    not another member or frame, raises :class:`InvalidArgument` naming ``what``.
    """

    def __init__(self, raw: Readable, compression: Compression, *, head: bytes, what: str) -> None:
        self.compression: Compression = compression
        self._raw = raw
        self._what = what
        self._pending = head
        self._raw_eof = False
        self._eof = False
        self._gz: zlib._Decompress | None = None
        self._zd: zstandard.ZstdDecompressionObj | None = None
        self._buffer = b""  # decompressed, not yet returned from self._buffer_pos on
        self._buffer_pos = 0

    def _fill(self, size: int) -> bool:
        """Ensure compressed input is pending; False at the end of the raw stream."""
        if self._pending:
            return True
        if self._raw_eof:
            return False
        self._pending = self._raw.read(size)
        if not self._pending:
            self._raw_eof = True
            return False
        return True

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        if n == 0 or self._eof:
            return b""
        if self.compression == "none":
            if not self._fill(n):
                self._eof = True
                return b""
            out, self._pending = self._pending[:n], self._pending[n:]
            return out
        if self._buffer_pos < len(self._buffer):
            # Served by offset: slicing the rest off each time would copy it per read.
            start = self._buffer_pos
            self._buffer_pos = min(start + n, len(self._buffer))
            return self._buffer[start : self._buffer_pos]
        try:
            if self.compression == "gzip":
                return self._read_gzip(n)
            return self._read_zstd(n)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise InvalidArgument(
                f"{self._what}: corrupt {self.compression} stream: {exc}",
                hint="the layer blob is damaged; fetch it again",
            ) from None

    def _truncated(self) -> InvalidArgument:
        return InvalidArgument(
            f"{self._what}: {self.compression} stream is truncated (it ends before its end marker)",
            hint="the layer blob is incomplete; fetch it again",
        )

    def _read_gzip(self, n: int) -> bytes:
        while True:
            if self._gz is None:  # between members
                if not self._fill(CHUNK):
                    self._eof = True
                    return b""
                self._gz = zlib.decompressobj(31)
            if not self._fill(CHUNK):
                raise self._truncated()
            # At least _OUT bytes per call: each call copies the unconsumed input, so
            # asking for a 512-byte tar header at a time would copy it per header.
            out = self._gz.decompress(self._pending, max(n, _OUT))
            self._pending = self._gz.unconsumed_tail
            if self._gz.eof:
                # At the end of a member, unused_data holds all the input after it
                # (unconsumed_tail may repeat part of it).
                self._pending = self._gz.unused_data
                self._gz = None
            if out:
                return self._keep(out, n)

    def _keep(self, out: bytes, n: int) -> bytes:
        """Return the first ``n`` bytes of ``out`` and buffer the rest."""
        if len(out) <= n:
            return out
        self._buffer, self._buffer_pos = out, n
        return out[:n]

    def _read_zstd(self, n: int) -> bytes:
        while True:
            if self._zd is None:  # between frames
                if not self._fill(CHUNK):
                    self._eof = True
                    return b""
                self._zd = zstandard.ZstdDecompressor().decompressobj()
            # Refilled in small reads: each piece taken below copies what is left.
            if not self._fill(_ZSTD_IN * 16):
                raise self._truncated()
            piece, self._pending = self._pending[:_ZSTD_IN], self._pending[_ZSTD_IN:]
            out = self._zd.decompress(piece)
            if self._zd.eof:
                self._pending = self._zd.unused_data + self._pending
                self._zd = None
            if out:
                return self._keep(out, n)


def open_decompressed(
    raw: Readable,
    *,
    media_type: str | None = None,
    compression: Compression | None = None,
    what: str = "layer",
) -> DecompressingReader:
    """Read ``raw`` (a layer blob) as its uncompressed tar stream.

    With ``compression`` given, that is used as is. Otherwise the magic bytes decide
    (gzip ``1f 8b``, zstd ``28 b5 2f fd``, anything else is plain tar); when
    ``media_type`` is also given it must agree with them, so a mislabelled blob is an
    :class:`InvalidArgument` rather than garbage later on.
    """
    head = b""
    while len(head) < 4:
        more = raw.read(4 - len(head))
        if not more:
            break
        head += more
    if compression is None:
        compression = detect_compression(head)
        if media_type is not None:
            announced = media.layer_compression(media_type)
            if announced is None:
                raise InvalidArgument(
                    f"{what}: {media_type!r} is not a layer media type",
                    hint="layers are application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]",
                )
            if announced != compression:
                raise InvalidArgument(
                    f"{what}: media type {media_type} says {announced}, "
                    f"but the content is {compression}",
                    hint="the manifest mislabels this layer; fix the media type",
                )
    elif compression not in COMPRESSIONS:
        raise InvalidArgument(f"unknown compression {compression!r}")
    return DecompressingReader(raw, compression, head=head, what=what)
