"""rpm's ndb package database (``Packages.db``, SUSE and openSUSE since 2021): a page
of 16-byte slots (pkgidx, block offset, block count) after a 32-byte file header, and
each package's header blob framed by a 16-byte head (``BlbS``, pkgidx, time, length)
and a 12-byte tail (adler32, length, ``BlbE``), in 16-byte blocks; little-endian.

Hand-written from the format rpm's backend writes (no Python library reads it); every
slot and blob frame is checked (magic numbers, bounds, length, adler32) before the
blob is handed on, and a bad one is reported, not trusted."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from imageforge.sbom.catalogers._rpmheader import HeaderError

__all__ = ["ndb_blobs"]

_FILE_MAGIC = int.from_bytes(b"RpmP", "little")
_SLOT_MAGIC = int.from_bytes(b"Slot", "little")
_HEAD_MAGIC = int.from_bytes(b"BlbS", "little")
_TAIL_MAGIC = int.from_bytes(b"BlbE", "little")
_PAGE, _SLOT, _BLK, _HEAD, _TAIL = 4096, 16, 16, 16, 12
MAX_SLOT_PAGES = 4096  # 1M packages
MAX_BLOB = 256 << 20


def _read_at(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    data = stream.read(size)
    if len(data) != size:
        raise HeaderError(f"{size} bytes at offset {offset} run past the end of the file")
    return data


def ndb_blobs(stream: BinaryIO, size: int) -> Iterator[tuple[int, bytes | HeaderError]]:
    """(pkgidx, header blob or the reason it is unusable) for every used slot; raises
    :class:`HeaderError` when the file itself is not an ndb database."""
    head = _read_at(stream, 0, 32)
    magic, version, _generation, npages = struct.unpack_from("<IIII", head)
    if magic != _FILE_MAGIC:
        raise HeaderError("no RpmP magic: not an ndb database")
    if version != 0:
        raise HeaderError(f"ndb version {version}, only version 0 exists")
    if not 0 < npages <= MAX_SLOT_PAGES or npages * _PAGE > size:
        raise HeaderError(f"{npages} slot pages do not fit a {size}-byte file")
    slots = _read_at(stream, 0, npages * _PAGE)
    for offset in range(32, npages * _PAGE, _SLOT):
        slot_magic, pkgidx, blkoff, blkcnt = struct.unpack_from("<IIII", slots, offset)
        if slot_magic != _SLOT_MAGIC:
            raise HeaderError(f"slot at offset {offset} has no Slot magic")
        if blkoff == 0:
            continue
        yield pkgidx, _blob(stream, size, npages, pkgidx, blkoff, blkcnt)


def _blob(
    stream: BinaryIO, size: int, npages: int, pkgidx: int, blkoff: int, blkcnt: int
) -> bytes | HeaderError:
    start, length = blkoff * _BLK, blkcnt * _BLK
    if blkoff < npages * _PAGE // _BLK or start + length > size or length < _HEAD + _TAIL:
        return HeaderError(f"slot points at blocks {blkoff}+{blkcnt}, outside the data")
    if length > MAX_BLOB:
        return HeaderError(f"a {length}-byte blob is over the {MAX_BLOB >> 20} MiB read")
    try:
        frame = _read_at(stream, start, length)
    except HeaderError as exc:
        return exc
    magic, idx, _time, bloblen = struct.unpack_from("<IIII", frame)
    if magic != _HEAD_MAGIC or idx != pkgidx:
        return HeaderError("blob head does not match its slot")
    if blkcnt != (_HEAD + bloblen + _TAIL + _BLK - 1) // _BLK:
        return HeaderError(f"blob of {bloblen} bytes does not fill its {blkcnt} blocks")
    adler, tail_len, tail_magic = struct.unpack_from("<III", frame, length - _TAIL)
    if tail_magic != _TAIL_MAGIC or tail_len != bloblen:
        return HeaderError("blob tail does not match its head")
    if zlib.adler32(frame[: length - _TAIL]) != adler:
        return HeaderError("blob checksum (adler32) does not match")
    return frame[_HEAD : _HEAD + bloblen]
