"""RPM header blobs, as the rpmdb stores them (one per installed package).

Hand-written: no maintained Python library reads rpm headers without librpm (the
``rpm`` bindings need the C library and a matching rpmdb backend). The format is
small: two big-endian counts (index entries ``il``, data bytes ``dl``), ``il`` entries
of (tag, type, offset, count), then the data. Every offset and count is checked
against the blob before it is used, so a damaged header raises
:class:`HeaderError` instead of reading past its end.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Header", "HeaderError", "parse_header", "tags"]

MAX_ENTRIES = 0xFFFF  # rpm's own limits (hdrchkTags / hdrchkData)
MAX_DATA = 256 << 20

_INT = {2: ("B", 1), 3: (">H", 2), 4: (">I", 4), 5: (">Q", 8)}
_CHAR, _STRING, _BIN, _STRING_ARRAY, _I18N = 1, 6, 7, 8, 9


class tags:
    """The header tags the cataloger reads (rpmtag.h)."""

    NAME = 1000
    VERSION = 1001
    RELEASE = 1002
    EPOCH = 1003
    SUMMARY = 1004
    SIZE = 1009
    VENDOR = 1011
    LICENSE = 1014
    PACKAGER = 1015
    URL = 1020
    ARCH = 1022
    SOURCERPM = 1044
    PROVIDENAME = 1047
    REQUIREFLAGS = 1048
    REQUIRENAME = 1049
    DIRINDEXES = 1116
    BASENAMES = 1117
    DIRNAMES = 1118
    MODULARITYLABEL = 5096


class HeaderError(ValueError):
    """The blob is not a well-formed rpm header."""


Value = str | bytes | tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class Header:
    """Tag -> value: strings, string arrays (tuples), integer arrays, raw bytes."""

    values: Mapping[int, Value]

    def string(self, tag: int) -> str:
        value = self.values.get(tag)
        if isinstance(value, str):
            return value
        if isinstance(value, tuple) and value and isinstance(value[0], str):
            return value[0]
        return ""

    def strings(self, tag: int) -> tuple[str, ...]:
        value = self.values.get(tag)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            return value  # type: ignore[return-value]
        return ()

    def ints(self, tag: int) -> tuple[int, ...]:
        value = self.values.get(tag)
        if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
            return value  # type: ignore[return-value]
        return ()

    def int(self, tag: int) -> int | None:
        values = self.ints(tag)
        return values[0] if values else None


def _strings(data: bytes, offset: int, count: int) -> tuple[tuple[str, ...], int]:
    out = []
    pos = offset
    for _ in range(count):
        end = data.find(b"\0", pos)
        if end < 0:
            raise HeaderError("a string runs past the end of the header")
        out.append(data[pos:end].decode("utf-8", "replace"))
        pos = end + 1
    return tuple(out), pos


def parse_header(blob: bytes, wanted: frozenset[int] | None = None) -> Header:
    """Decode a header blob (the form stored in the rpmdb, without the 8-byte magic of a
    header in an rpm file; a blob that has it is accepted too). ``wanted`` limits the
    tags decoded."""
    if blob[:3] == b"\x8e\xad\xe8":
        blob = blob[8:]
    if len(blob) < 8:
        raise HeaderError("shorter than a header's counts")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il > MAX_ENTRIES or dl > MAX_DATA:
        raise HeaderError(f"{il} entries and {dl} data bytes are over rpm's limits")
    start = 8 + 16 * il
    if start + dl > len(blob):
        raise HeaderError(f"says {il} entries and {dl} data bytes, but the blob is {len(blob)}")
    data = blob[start : start + dl]
    values: dict[int, Value] = {}
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">IIiI", blob, 8 + 16 * i)
        if wanted is not None and tag not in wanted:
            continue
        if offset < 0 or offset > dl or count > dl + 1:
            raise HeaderError(f"tag {tag}: offset {offset} / count {count} outside the data")
        if kind == _STRING:
            values[tag] = _strings(data, offset, 1)[0][0]
        elif kind in (_STRING_ARRAY, _I18N):
            values[tag] = _strings(data, offset, count)[0]
        elif kind in _INT:
            fmt, size = _INT[kind]
            if offset + size * count > dl:
                raise HeaderError(f"tag {tag}: {count} integers run past the data")
            values[tag] = tuple(
                struct.unpack_from(fmt, data, offset + size * n)[0] for n in range(count)
            )
        elif kind in (_BIN, _CHAR):
            if offset + count > dl:
                raise HeaderError(f"tag {tag}: {count} bytes run past the data")
            values[tag] = data[offset : offset + count]
    return Header(values)
