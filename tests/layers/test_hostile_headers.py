"""Hostile tar headers found while writing the layer reader's fuzz harness
(fuzz/fuzz_layer.py), by hand-made probes of its number fields: each used to escape as
OverflowError (exit 70) or to make the reader swallow the rest of the stream into
memory; now each is an InvalidArgument naming the layer and the entry."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.layers import extract_layer, open_layer


def _tar(*members: tarfile.TarInfo, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buf.getvalue()


def _pax(name: str, **headers: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.pax_headers = headers
    return info


def _read_all(data: bytes) -> None:
    with open_layer(io.BytesIO(data), name="hostile") as reader:
        for _ in reader:
            reader.read()
        reader.finish()


@pytest.mark.parametrize("mtime", ["inf", "-inf", "1e999", "nan"])
def test_a_pax_mtime_that_is_no_number_is_refused(mtime: str) -> None:
    with pytest.raises(InvalidArgument, match="entry 'f' has a malformed PAX number"):
        _read_all(_tar(_pax("f", mtime=mtime)))


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"uid": str(1 << 40)}, "uid"),
        ({"gid": "-5"}, "gid"),
        ({"mtime": "1e12"}, "mtime"),  # year 33658: no int64 nanoseconds hold it
    ],
)
def test_numbers_no_file_can_have_are_refused(headers: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument, match=f"entry 'f' has {field} .* outside"):
        _read_all(_tar(_pax("f", **headers)))


def test_a_device_number_beyond_32_bits_is_refused() -> None:
    info = tarfile.TarInfo("dev/x")
    info.type = tarfile.CHRTYPE
    info.devmajor = 1 << 40  # GNU format writes it in base-256
    with pytest.raises(InvalidArgument, match="has devmajor 1099511627776, outside"):
        _read_all(_tar(info, fmt=tarfile.GNU_FORMAT))


def test_the_extremes_of_each_range_are_still_read() -> None:
    info = _pax("f", uid=str((1 << 32) - 1), gid="0", mtime="-9223372036")
    with open_layer(io.BytesIO(_tar(info))) as reader:
        (entry,) = list(reader)
    assert (entry.uid, entry.gid, entry.mtime) == ((1 << 32) - 1, 0, -9223372036)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown with a huge uid is reached only as root")
def test_extracting_an_entry_with_a_huge_uid_is_refused_not_an_overflow(tmp_path: Path) -> None:
    info = _pax("etc/passwd", uid=str(1 << 40))
    info.size = 3
    with pytest.raises(InvalidArgument, match="uid 1099511627776"):
        extract_layer(io.BytesIO(_tar(info)), tmp_path, name="hostile")
    assert not (tmp_path / "etc" / "passwd").exists()


def _header(name: bytes, typ: bytes, size_field: bytes) -> bytes:
    """A ustar header with a raw size field (tarfile never writes a negative size)."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = size_field.ljust(12, b"\0")
    block[136:148] = b"00000000000\0"
    block[156:157] = typ
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


class _Counting(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.consumed = 0

    def read(self, n: int = -1, /) -> bytes:
        out = self._inner.read(n)
        self.consumed += len(out)
        return out


@pytest.mark.parametrize("typ", [b"x", b"L", b"K", b"0"])
def test_a_negative_header_size_is_refused_before_reading_on(typ: bytes) -> None:
    # A PAX or GNU long-name header of size -1000000 made the reader ask for a negative
    # count, which reads to the end of the stream into memory (behind a gzip bomb: all
    # of it). Now it stops at that header.
    stream = _header(b"meta", typ, b"-1000000") + bytes(32 << 20)
    counting = _Counting(stream)
    with pytest.raises(InvalidArgument, match="invalid tar header at offset 0: negative size"):
        with open_layer(counting, name="hostile") as reader:
            list(reader)
    assert counting.consumed <= 2 << 20  # a read-ahead chunk, not the 32 MiB after it


def _named(name: str, *, linkname: str = "", xattrs: dict[str, str] | None = None) -> bytes:
    info = _pax(name, **{f"SCHILY.xattr.{k}": v for k, v in (xattrs or {}).items()})
    if linkname:
        info.type = tarfile.SYMTYPE
        info.linkname = linkname
    return _tar(info)


@pytest.mark.parametrize(
    ("layer", "entry", "why"),
    [
        (_named("a" * 300), "a" * 300, "File name too long"),
        (_named("l", linkname="x" * 5000), "l", "File name too long"),
        (_named("x", xattrs={"user." + "k" * 300: "v"}), "x", "Numerical result out of range"),
        (_named("y", xattrs={"bogus": "v"}), "y", "Operation not supported"),
    ],
)
def test_an_entry_the_kernel_cannot_make_is_refused_naming_it(
    tmp_path: Path, layer: bytes, entry: str, why: str
) -> None:
    # A tar can name anything; extraction used to let the OSError out (exit 70).
    with pytest.raises(InvalidArgument) as info:
        extract_layer(io.BytesIO(layer), tmp_path, name="hostile", xattrs=True)
    assert info.value.message == (
        f"layer hostile: entry {entry!r}: it cannot be made on this filesystem: {why}"
    )
    assert os.listdir(tmp_path) == []  # nothing half-made, no temporary left
