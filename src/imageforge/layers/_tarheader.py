"""The tar header of one layer entry, written by hand: the bytes
``tarfile.TarInfo.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")`` gives for the
same member, several times faster (a 20,000-file COPY spent more time in ``tarfile``'s
header code than in compressing the layer).

What it writes, as ``tarfile`` does in PAX format: a ustar header (name and link target
cut to 100 bytes, non-ASCII characters as ``?``, a directory's name ending in ``/``, no
``prefix`` field, empty owner names, device numbers only for character and block
devices), preceded by a PAX extended header (``././@PaxHeader``, type ``x``) when a
value does not fit: a name or link target longer than 100 characters or not ASCII, a
uid or gid of 8**7 or more, a size or mtime of 8**11 or more or negative, and every
xattr (``SCHILY.xattr.<name>``). A value holding undecodable bytes (surrogate escapes)
makes the whole extended header ``hdrcharset=BINARY`` with those bytes restored.
``tests/layers/test_tarheader.py`` checks the bytes against ``tarfile`` for every kind
of entry.

Hand-written: the header format is POSIX.1-2001 (pax) over ustar; only its encoding
choices are ``tarfile``'s, so that layers written before and after keep their digests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from imageforge.errors import InvalidArgument

__all__ = ["TYPE_FLAGS", "pax_header"]

TYPE_FLAGS: Final = {
    "file": b"0",
    "hardlink": b"1",
    "symlink": b"2",
    "char": b"3",
    "block": b"4",
    "dir": b"5",
    "fifo": b"6",
}
"""The ustar type flag of each :class:`EntryType` value."""

_BLOCK: Final = 512
_NAME: Final = 100
_MAX_ID: Final = 8**7  # uid, gid and device numbers: 7 octal digits
_MAX_BIG: Final = 8**11  # size and mtime: 11 octal digits
# magic "ustar\0", version "00", then empty uname and gname (32 NULs each)
_MAGIC: Final = b"ustar\x0000" + b"\0" * 64
_NO_DEVICE: Final = b"\0" * 16
_TAIL: Final = b"\0" * (155 + 12)  # the unused prefix field and the block's padding
_BLANK_CHECKSUM: Final = 8 * 0x20  # the checksum is summed with its field as 8 spaces
_PAX_NAME: Final = b"././@PaxHeader".ljust(_NAME, b"\0")


def _block(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    flag: bytes,
    link: bytes,
    device: bytes,
) -> bytes:
    """One ustar header block; ``name`` and ``link`` already cut to 100 bytes, every
    number in range."""
    head = b"%s%07o\0%07o\0%07o\0%011o\0%011o\0" % (
        name.ljust(_NAME, b"\0"),
        mode,
        uid,
        gid,
        size,
        mtime,
    )
    tail = flag + link.ljust(_NAME, b"\0") + _MAGIC + device
    checksum = _BLANK_CHECKSUM + sum(head) + sum(tail)
    return b"%s%06o\0 %s%s" % (head, checksum, tail, _TAIL)


def _record(keyword: bytes, value: bytes) -> bytes:
    """One ``"<length> <keyword>=<value>\\n"`` record, its length counting itself."""
    rest = len(keyword) + len(value) + 3  # ' ', '=' and '\n'
    length = 0
    while True:
        total = rest + len(str(length))
        if total == length:
            break
        length = total
    return b"%d %s=%s\n" % (length, keyword, value)


def _extended(records: dict[str, str], path: str) -> bytes:
    """The PAX extended header holding ``records``, in their order."""
    binary = False
    for value in records.values():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            binary = True
            break
    parts = [b"21 hdrcharset=BINARY\n"] if binary else []
    for keyword, value in records.items():
        try:
            raw_keyword = keyword.encode("utf-8")
            raw_value = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise InvalidArgument(
                f"layer entry {path!r}: {keyword!r} cannot be written in a tar header "
                "(it holds a character no encoding can represent)",
                hint="rename the file or remove the extended attribute",
            ) from None
        parts.append(_record(raw_keyword, raw_value))
    data = b"".join(parts)
    header = _block(_PAX_NAME, 0, 0, 0, len(data), 0, b"x", b"", _NO_DEVICE)
    return header + data + b"\0" * (-len(data) % _BLOCK)


def _text_field(value: str, keyword: str, records: dict[str, str]) -> bytes:
    """The ustar bytes of a name field; the full value goes to ``records`` when it is
    too long or not ASCII."""
    if value.isascii():
        if len(value) > _NAME:
            records[keyword] = value
            return value[:_NAME].encode("ascii")
        return value.encode("ascii")
    records[keyword] = value
    return value.encode("ascii", "replace")[:_NAME]


def pax_header(
    path: str,
    kind: str,
    *,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    linkname: str = "",
    devmajor: int = 0,
    devminor: int = 0,
    xattrs: Mapping[str, str] | None = None,
) -> bytes:
    """The header blocks of one member: ``kind`` an :class:`EntryType` value, ``path``
    already normalised (a directory's gets its ``/`` here), ``xattrs`` values decoded
    with ``surrogateescape``, in the order they are to be written."""
    flag = TYPE_FLAGS[kind]
    records: dict[str, str] = {}
    if xattrs:
        for key, value in xattrs.items():
            records[f"SCHILY.xattr.{key}"] = value
    if kind == "dir" and not path.endswith("/"):
        path += "/"
    name = _text_field(path, "path", records)
    link = _text_field(linkname, "linkpath", records) if linkname else b""
    if not 0 <= uid < _MAX_ID:
        records["uid"] = str(uid)
        uid = 0
    if not 0 <= gid < _MAX_ID:
        records["gid"] = str(gid)
        gid = 0
    if not 0 <= size < _MAX_BIG:
        records["size"] = str(size)
        size = 0
    if not 0 <= mtime < _MAX_BIG:
        records["mtime"] = str(mtime)
        mtime = 0
    if flag in (b"3", b"4"):
        if not (0 <= devmajor < _MAX_ID and 0 <= devminor < _MAX_ID):
            raise InvalidArgument(
                f"layer entry {path!r}: device number {devmajor}:{devminor} does not fit "
                "a tar header (at most 7 octal digits each)",
            )
        device = b"%07o\0%07o\0" % (devmajor, devminor)
    else:
        device = _NO_DEVICE
    block = _block(name, mode & 0o7777, uid, gid, size, mtime, flag, link, device)
    if records:
        return _extended(records, path) + block
    return block
