"""The fast tar header decoder agrees with ``tarfile`` on every header it accepts and
never accepts one that ``tarfile`` refuses."""

from __future__ import annotations

import tarfile
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from imageforge.layers._read import _fast_header, _slow_header

_names = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\0"), min_size=1, max_size=200
)


@settings(max_examples=300)
@given(
    name=_names,
    kind=st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]),
    size=st.integers(0, 8**11 - 1),
    uid=st.integers(0, 8**7 - 1),
    mode=st.integers(0, 0o7777),
    fmt=st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
)
def test_agrees_with_tarfile(
    name: str, kind: bytes, size: int, uid: int, mode: int, fmt: Literal[0, 1, 2]
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.uid = uid
    info.mode = mode
    info.linkname = "target" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    try:
        buf = info.tobuf(fmt, "utf-8", "surrogateescape")
    except ValueError:  # does not fit this format
        return
    for i in range(0, len(buf), 512):
        block = buf[i : i + 512]
        if block[156:157] == b"\0" and block.count(b"\0") == 512:
            continue
        try:
            expected = _slow_header(block)
        except tarfile.HeaderError:
            continue
        got = _fast_header(block)
        assert got is None or got == expected


@settings(max_examples=500)
@given(
    data=st.binary(min_size=512, max_size=512), flip=st.integers(0, 511), value=st.integers(0, 255)
)
def test_never_accepts_what_tarfile_refuses(data: bytes, flip: int, value: int) -> None:
    good = tarfile.TarInfo("some/file.txt").tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
    for block in (data, good[:flip] + bytes([value]) + good[flip + 1 :]):
        try:
            expected = _slow_header(block)
        except tarfile.HeaderError:
            assert _fast_header(block) is None
            continue
        got = _fast_header(block)
        assert got is None or got == expected
