"""The hand-written tar header writer gives the bytes ``tarfile`` gives for the same
member, so layers keep their digests: each entry written by :func:`write_layer` and by
``tarfile.TarInfo.tobuf`` (PAX, UTF-8, surrogate escapes), the two tars compared."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageforge.errors import InvalidArgument
from imageforge.layers import Entry, EntryType, tree_entries, write_layer, write_layer_from_dir
from imageforge.layers._model import normalize_path
from imageforge.layers._write import _header
from tests.conftest import requires_root
from tests.layers.conftest import make_tree

_TAR_TYPES = {
    EntryType.FILE: tarfile.REGTYPE,
    EntryType.DIR: tarfile.DIRTYPE,
    EntryType.SYMLINK: tarfile.SYMTYPE,
    EntryType.HARDLINK: tarfile.LNKTYPE,
    EntryType.CHAR: tarfile.CHRTYPE,
    EntryType.BLOCK: tarfile.BLKTYPE,
    EntryType.FIFO: tarfile.FIFOTYPE,
}


def _tarfile_header(entry: Entry, mtime_clamp: int | None = None) -> bytes:
    """The header blocks ``tarfile`` writes for ``entry`` (the oracle)."""
    info = tarfile.TarInfo(normalize_path(entry.path))
    info.type = _TAR_TYPES[entry.type]
    info.mode = entry.mode & 0o7777
    info.uid = entry.uid
    info.gid = entry.gid
    info.uname = ""
    info.gname = ""
    info.size = entry.size if entry.type is EntryType.FILE else 0
    info.mtime = entry.mtime if mtime_clamp is None else min(entry.mtime, mtime_clamp)
    if entry.type is EntryType.HARDLINK:
        info.linkname = normalize_path(entry.linkname)
    elif entry.type is EntryType.SYMLINK:
        info.linkname = entry.linkname
    if entry.type in (EntryType.CHAR, EntryType.BLOCK):
        info.devmajor = entry.devmajor
        info.devminor = entry.devminor
    info.pax_headers = {
        f"SCHILY.xattr.{key}": value.decode("utf-8", "surrogateescape")
        for key, value in sorted(entry.xattrs.items())
    }
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _tarfile_layer(
    entries: list[Entry], mtime_clamp: int | None = None, contents: list[bytes] | None = None
) -> bytes:
    """The uncompressed layer ``tarfile`` writes for ``entries`` (the oracle); a file's
    content is ``x`` repeated, or the one ``contents`` gives."""
    out = io.BytesIO()
    for i, entry in enumerate(entries):
        out.write(_tarfile_header(entry, mtime_clamp))
        if entry.type is EntryType.FILE:
            out.write(b"x" * entry.size if contents is None else contents[i])
            out.write(b"\0" * (-entry.size % 512))
    out.write(b"\0" * 1024)
    return out.getvalue()


def _ours(entries: list[Entry], mtime_clamp: int | None = None) -> bytes:
    out = io.BytesIO()
    write_layer(
        [(e, b"x" * e.size if e.type is EntryType.FILE else None) for e in entries],
        out,
        compression="none",
        mtime_clamp=mtime_clamp,
    )
    return out.getvalue()


_LONG = "/".join(["component-of-a-long-path"] * 6)  # 149 characters
_UNDECODABLE = os.fsdecode(b"caf\xe9-latin1")  # a name that is not UTF-8 on disk

CASES = {
    "file": Entry("etc/passwd", EntryType.FILE, mode=0o644, size=37, mtime=1_700_000_000),
    "setuid file": Entry("bin/su", EntryType.FILE, mode=0o4755, uid=0, gid=0, size=3),
    "empty file": Entry("empty", EntryType.FILE, mode=0o600, size=0, mtime=1),
    "dir": Entry("usr/share", EntryType.DIR, mode=0o755, mtime=1_600_000_000),
    "sticky dir": Entry("tmp", EntryType.DIR, mode=0o1777),
    "dir at 99 characters": Entry("d" * 99, EntryType.DIR, mode=0o755),
    "dir at 100 characters": Entry("d" * 100, EntryType.DIR, mode=0o755),
    "name at 100 characters": Entry("n" * 100, EntryType.FILE, size=1),
    "name at 101 characters": Entry("n" * 101, EntryType.FILE, size=1),
    "long path": Entry(_LONG, EntryType.FILE, size=5),
    "symlink": Entry("bin/sh", EntryType.SYMLINK, mode=0o777, linkname="busybox"),
    "absolute symlink": Entry("lib64", EntryType.SYMLINK, mode=0o777, linkname="/usr/lib64"),
    "long symlink target": Entry("l", EntryType.SYMLINK, mode=0o777, linkname="/" + _LONG),
    "link target at 100": Entry("l100", EntryType.SYMLINK, mode=0o777, linkname="t" * 100),
    "link target at 101": Entry("l101", EntryType.SYMLINK, mode=0o777, linkname="t" * 101),
    "hardlink": Entry("bin/sh2", EntryType.HARDLINK, linkname="bin/sh", mode=0o755),
    "long hardlink": Entry("h", EntryType.HARDLINK, linkname=_LONG, mode=0o644),
    "char device": Entry("dev/null", EntryType.CHAR, mode=0o666, devmajor=1, devminor=3),
    "whiteout device": Entry("dev/wh", EntryType.CHAR, mode=0, devmajor=0, devminor=0),
    "big device": Entry("dev/big", EntryType.BLOCK, devmajor=8**7 - 1, devminor=8**7 - 1),
    "block device": Entry("dev/sda", EntryType.BLOCK, mode=0o660, devmajor=8, devminor=0),
    "fifo": Entry("run/fifo", EntryType.FIFO, mode=0o600),
    "uid at the limit": Entry("u1", EntryType.FILE, uid=8**7 - 1, gid=8**7 - 1),
    "big uid": Entry("u2", EntryType.FILE, uid=8**7, gid=1),
    "big gid": Entry("u3", EntryType.DIR, uid=1, gid=100_000_000),
    "negative ids": Entry("u4", EntryType.FILE, uid=-1, gid=-2),
    "big mtime": Entry("t1", EntryType.FILE, mtime=8**11),
    "negative mtime": Entry("t2", EntryType.SYMLINK, linkname="x", mtime=-86400),
    "big size": Entry("s1", EntryType.FILE, size=8**11 + 3),
    "non-ASCII name": Entry("usr/share/zoneinfo/Amérique/Bogotá", EntryType.FILE, size=2),
    "non-ASCII link": Entry("lnk", EntryType.SYMLINK, linkname="日本語/ファイル"),
    "undecodable name": Entry(f"srv/{_UNDECODABLE}", EntryType.FILE, size=4),
    "undecodable link": Entry("srv/l", EntryType.SYMLINK, linkname=_UNDECODABLE),
    "xattrs": Entry(
        "bin/ping",
        EntryType.FILE,
        mode=0o755,
        size=8,
        xattrs={"security.capability": b"\x01\x00\x00\x02 \x00\x00", "user.note": b"hello"},
    ),
    "binary xattr": Entry("f", EntryType.FILE, xattrs={"user.raw": b"\xff\xfe\x00\x80"}),
    "xattr on a dir": Entry("opq", EntryType.DIR, xattrs={"user.x": "é".encode()}),
    "everything at once": Entry(
        f"{_LONG}/{_UNDECODABLE}-ü",
        EntryType.FILE,
        mode=0o2755,
        uid=10**9,
        gid=-5,
        size=8**11,
        mtime=2**40,
        xattrs={"user.a": b"1", "trusted.b": b"\xc3"},
    ),
}


_SMALL = {name: entry for name, entry in CASES.items() if entry.size < 1 << 20}


@pytest.mark.parametrize("name", CASES)
def test_same_header_as_tarfile(name: str) -> None:
    entry = CASES[name]
    for clamp in (None, 1_650_000_000):
        assert _header(entry, clamp) == _tarfile_header(entry, clamp)


@pytest.mark.parametrize("name", _SMALL)
def test_same_layer_as_tarfile(name: str) -> None:
    entry = CASES[name]
    assert _ours([entry]) == _tarfile_layer([entry])


def test_same_bytes_for_all_cases_in_one_layer_with_a_clamp() -> None:
    entries = list(_SMALL.values())
    assert _ours(entries, mtime_clamp=1_650_000_000) == _tarfile_layer(
        entries, mtime_clamp=1_650_000_000
    )


def test_the_tar_reads_back_as_written() -> None:
    entry = replace(CASES["everything at once"], size=3)
    data = _ours([CASES["file"], entry])
    # tarfile itself (another reader than ours) sees the PAX values, not the ustar ones
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
    assert members[0].name == "etc/passwd" and members[0].size == 37
    assert members[1].name == entry.path
    assert (members[1].uid, members[1].gid) == (10**9, -5)
    assert (members[1].size, members[1].mtime) == (3, 2**40)
    assert members[1].pax_headers["SCHILY.xattr.trusted.b"] == "\udcc3"


_text = st.text(st.characters(exclude_characters="\0/"), min_size=1, max_size=60)
_raw_names = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b and b"/" not in b)


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(st.one_of(_text, _raw_names.map(os.fsdecode)), min_size=1, max_size=4),
    kind=st.sampled_from(list(EntryType)),
    mode=st.integers(0, 0o7777),
    uid=st.integers(-(2**33), 2**33),
    gid=st.integers(0, 2**32),
    size=st.one_of(st.integers(0, 3000), st.just(8**11 - 1), st.just(8**11)),
    mtime=st.integers(-(2**35), 2**36),
    link=st.one_of(_text, _raw_names.map(os.fsdecode)),
    dev=st.integers(0, 8**7 - 1),
    xattrs=st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0="), max_size=20),
        st.binary(max_size=40),
        max_size=3,
    ),
)
def test_agrees_with_tarfile_on_generated_entries(
    parts: list[str],
    kind: EntryType,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    link: str,
    dev: int,
    xattrs: dict[str, bytes],
) -> None:
    path = "/".join(parts)
    if {".", ".."} & set(path.split("/")):
        return
    if kind is EntryType.HARDLINK and {".", ".."} & set(link.split("/")):
        return
    entry = Entry(
        path,
        kind,
        mode=mode,
        uid=uid,
        gid=gid,
        size=size if kind is EntryType.FILE else 0,
        mtime=mtime,
        linkname=link if kind in (EntryType.SYMLINK, EntryType.HARDLINK) else "",
        devmajor=dev,
        devminor=dev // 3,
        xattrs={f"user.{k}": v for k, v in xattrs.items()},
    )
    try:
        expected = _tarfile_header(entry)
    except UnicodeEncodeError:  # a lone surrogate no file name can hold: both refuse
        with pytest.raises(InvalidArgument, match="cannot be written in a tar header"):
            _header(entry, None)
        return
    assert _header(entry, None) == expected
    if entry.size < 10_000:
        assert _ours([entry]) == _tarfile_layer([entry])


def test_a_device_number_too_big_is_refused_by_name() -> None:
    entry = Entry("dev/huge", EntryType.CHAR, devmajor=8**7, devminor=0)
    with pytest.raises(InvalidArgument, match="dev/huge.*device number 2097152:0"):
        _ours([entry])


def test_an_unencodable_xattr_name_is_refused_by_name() -> None:
    entry = Entry("f", EntryType.FILE, xattrs={os.fsdecode(b"user.\xff"): b"v"})
    with pytest.raises(InvalidArgument, match="'f'.*cannot be written"):
        _ours([entry])


def test_a_path_with_a_lone_surrogate_is_refused_by_name() -> None:
    """A name no encoding can write (not one a file system gives: those decode to
    surrogateescape's range) is refused, as tarfile refuses it, not written wrongly."""
    entry = Entry("etc/\ud800", EntryType.FILE)
    with pytest.raises(InvalidArgument, match="'path' cannot be written in a tar header"):
        _ours([entry])


@requires_root
def test_a_tree_layer_is_the_tar_tarfile_writes(tmp_path: Path) -> None:
    """A real tree (every kind of file, a device node, xattrs, long and undecodable
    names) written by :func:`write_layer_from_dir`, and its entries by ``tarfile``."""
    root = make_tree(tmp_path / "tree")
    os.mknod(root / "null", 0o20666, os.makedev(1, 3))
    os.setxattr(root / "secret", "user.mark", b"\x00\xff")
    long_dir = root / ("d" * 120)
    long_dir.mkdir()
    (long_dir / os.fsdecode(b"\xe9t\xe9")).write_bytes(b"summer")
    os.symlink("t" * 150, root / "far")
    entries: list[Entry] = []
    contents: list[bytes] = []
    for entry, content in tree_entries(root, xattrs=True):
        entries.append(entry)
        contents.append(content.read() if isinstance(content, io.RawIOBase) else b"")
    out = io.BytesIO()
    write_layer_from_dir(root, out, compression="none", xattrs=True)
    assert {e.type for e in entries} == set(EntryType) - {EntryType.BLOCK}
    assert out.getvalue() == _tarfile_layer(entries, contents=contents)
