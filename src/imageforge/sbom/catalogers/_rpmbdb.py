"""rpm's Berkeley DB package database (``var/lib/rpm/Packages``, RHEL/CentOS <= 8,
older SUSE): a hash database whose values are the header blobs, each stored off-page
in a chain of overflow pages.

Hand-written (Python has no maintained Berkeley DB reader that needs no libdb, and only
the hash access method's page layout is needed): page 0 is the hash metadata page
(magic 0x061561, page size, last page number); every hash page (type 2 or 13) holds
key/value item pairs after a 26-byte page header; a value item of type H_OFFPAGE (3)
names the first overflow page (type 7) of its blob and the blob's total length. Chains
are bounded by that length and by the page count, so a loop or a lie ends the read."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from imageforge.sbom.catalogers._rpmheader import HeaderError

__all__ = ["bdb_blobs"]

_MAGIC = 0x061561
_HEADER = 26
_HASH_PAGES = (2, 13)
_OVERFLOW = 7
_H_OFFPAGE = 3
MAX_BLOB = 256 << 20


def _page(stream: BinaryIO, number: int, size: int) -> bytes:
    stream.seek(number * size)
    data = stream.read(size)
    if len(data) != size:
        raise HeaderError(f"page {number} runs past the end of the file")
    return data


def bdb_blobs(stream: BinaryIO) -> Iterator[tuple[int, bytes | HeaderError]]:
    """(hash page number, header blob or the reason it is unusable) for every off-page
    value; raises :class:`HeaderError` when the file is not a Berkeley DB hash."""
    stream.seek(0)
    meta = stream.read(512)
    if len(meta) < 72:
        raise HeaderError("shorter than a Berkeley DB metadata page")
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", meta, 12)[0] == _MAGIC:
            break
    else:
        raise HeaderError("no Berkeley DB hash magic")
    page_size, last = (
        struct.unpack_from(order + "I", meta, 20)[0],
        struct.unpack_from(order + "I", meta, 32)[0],
    )
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise HeaderError(f"page size {page_size} is not a Berkeley DB page size")
    if meta[24] != 0:
        raise HeaderError("encrypted database")
    for number in range(1, last + 1):
        try:
            page = _page(stream, number, page_size)
        except HeaderError as exc:
            yield number, exc
            return
        if page[25] not in _HASH_PAGES:
            continue
        entries = struct.unpack_from(order + "H", page, 20)[0]
        if _HEADER + 2 * entries > page_size:
            yield number, HeaderError(f"page {number}: {entries} items do not fit the page")
            continue
        for i in range(1, entries, 2):  # items alternate key, value
            offset = struct.unpack_from(order + "H", page, _HEADER + 2 * i)[0]
            if offset + 12 > page_size or page[offset] != _H_OFFPAGE:
                continue
            first, total = struct.unpack_from(order + "II", page, offset + 4)
            yield number, _chain(stream, order, page_size, last, first, total)


def _chain(
    stream: BinaryIO, order: str, page_size: int, last: int, first: int, total: int
) -> bytes | HeaderError:
    if total > MAX_BLOB:
        return HeaderError(f"a {total}-byte value is over the {MAX_BLOB >> 20} MiB read")
    parts: list[bytes] = []
    have = 0
    number = first
    seen: set[int] = set()
    while number:
        if number in seen or number > last:
            return HeaderError(f"overflow chain from page {first} loops or leaves the file")
        seen.add(number)
        try:
            page = _page(stream, number, page_size)
        except HeaderError as exc:
            return exc
        if page[25] != _OVERFLOW:
            return HeaderError(f"page {number} in an overflow chain is not an overflow page")
        following = struct.unpack_from(order + "I", page, 16)[0]
        used = (
            struct.unpack_from(order + "H", page, 22)[0] if not following else page_size - _HEADER
        )
        if _HEADER + used > page_size:
            return HeaderError(f"overflow page {number} says it holds {used} bytes")
        parts.append(page[_HEADER : _HEADER + used])
        have += used
        number = following
    if have != total:
        return HeaderError(f"overflow chain from page {first} holds {have} of {total} bytes")
    return b"".join(parts)
