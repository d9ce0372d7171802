"""The rpm cataloger over an rpmdb.sqlite made by Debian's rpm (rpmbuild of two tiny
noarch packages, installed into a root), checked against ``rpm -qa``."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from imageforge.sbom import DirFiles, generate
from imageforge.sbom.catalogers._rpmheader import HeaderError, parse_header
from tests.conftest import need_binary
from tests.sbom.conftest import build_image, tree_spec

SPECS = {
    "libfoo": """\
Name: libfoo
Version: 1.2
Release: 3.fc40
Epoch: 2
Summary: a library
License: MIT
Vendor: Fedora Project
BuildArch: noarch
Provides: libfoo.so.1
%description
a library
%install
mkdir -p %{buildroot}/usr/lib
echo foo > %{buildroot}/usr/lib/libfoo.txt
%files
/usr/lib/libfoo.txt
""",
    "hello": """\
Name: hello
Version: 0.9
Release: 1
Summary: says hello
License: GPLv2+
BuildArch: noarch
Requires: libfoo.so.1
%description
hello
%install
mkdir -p %{buildroot}/usr/bin
echo hi > %{buildroot}/usr/bin/hello
%files
/usr/bin/hello
""",
}


@pytest.fixture(scope="module")
def rpm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_binary("rpmbuild")
    work = tmp_path_factory.mktemp("rpm")
    for name, spec in SPECS.items():
        (work / f"{name}.spec").write_text(spec)
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {work / 'top'}", "-bb", str(work / f"{name}.spec")],
            check=True,
            capture_output=True,
        )
    root = work / "root"
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run([*rpm, "--initdb"], check=True, capture_output=True)
    rpms = sorted(str(p) for p in (work / "top/RPMS/noarch").glob("*.rpm"))
    subprocess.run([*rpm, "-i", "--nodeps", "--noscripts", *rpms], check=True, capture_output=True)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text('ID=fedora\nVERSION_ID=40\nNAME="Fedora Linux"\n')
    return root


def _rpm_qa(root: Path) -> set[tuple[str, str]]:
    out = subprocess.run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            "/var/lib/rpm",
            "-qa",
            "--qf",
            "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {(n, v) for n, v in (line.split("\t") for line in out.splitlines())}


def test_sqlite_rpmdb_equals_rpm_qa(rpm_root: Path) -> None:
    assert (rpm_root / "var/lib/rpm/rpmdb.sqlite").is_file()
    sbom = generate(DirFiles(rpm_root))
    assert {(p.name, p.version) for p in sbom.packages} == _rpm_qa(rpm_root)
    pkgs = {p.name: p for p in sbom.packages}
    libfoo, hello = pkgs["libfoo"], pkgs["hello"]
    assert libfoo.version == "2:1.2-3.fc40"
    assert libfoo.purl == (
        "pkg:rpm/fedora/libfoo@1.2-3.fc40?arch=noarch&distro=fedora-40&epoch=2"
        "&upstream=libfoo-1.2-3.fc40.src.rpm"
    )
    assert libfoo.files == ("usr/lib/libfoo.txt",) and libfoo.licenses == ("MIT",)
    assert libfoo.supplier == "Fedora Project"
    assert libfoo.cpes == ("cpe:2.3:a:fedora:libfoo:1.2-3.fc40:*:*:*:*:*:*:*",)
    assert hello.licenses == ("GPLv2+",)  # not an SPDX id: kept as stated
    assert hello.depends_on == ("libfoo",)  # through libfoo's Provides
    assert [(r.parent, r.child) for r in sbom.relationships] == [(hello.id, libfoo.id)]
    assert hello.evidence[0].path == "var/lib/rpm/rpmdb.sqlite"
    assert sbom.warnings == []


def test_from_an_image(rpm_root: Path) -> None:
    image = build_image(tree_spec(rpm_root))
    sbom = generate(image)
    assert {(p.name, p.version) for p in sbom.packages} == _rpm_qa(rpm_root)
    assert {p.evidence[0].layer for p in sbom.packages} == {str(image.layers()[0].digest)}


def test_damaged_header_and_database(rpm_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(rpm_root, root, symlinks=True)
    db = root / "var/lib/rpm/rpmdb.sqlite"
    conn = sqlite3.connect(db)
    hnum, blob = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchone()
    conn.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (blob[:40], hnum))
    conn.commit()
    conn.close()
    sbom = generate(DirFiles(root))
    assert len(sbom.packages) == 1
    assert len(sbom.warnings) == 1
    assert sbom.warnings[0].startswith(f"var/lib/rpm/rpmdb.sqlite: package {hnum}: damaged header")
    db.write_bytes(b"not a database" * 100)
    for extra in root.glob("var/lib/rpm/rpmdb.sqlite-*"):
        extra.unlink()
    sbom = generate(DirFiles(root))
    assert sbom.packages == []
    assert sbom.warnings[0].startswith("var/lib/rpm/rpmdb.sqlite: not a readable rpmdb.sqlite")


def _blobs(rpm_root: Path) -> list[tuple[int, bytes]]:
    conn = sqlite3.connect(rpm_root / "var/lib/rpm/rpmdb.sqlite")
    rows = [(h, b) for h, b in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")]
    conn.close()
    return rows


def test_berkeley_db_rpmdb_made_by_libdb(rpm_root: Path, tmp_path: Path) -> None:
    need_binary("db5.3_load")
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for hnum, blob in _blobs(rpm_root):
        lines += [" " + hnum.to_bytes(4, "little").hex(), " " + blob.hex()]
    lines.append("DATA=END")
    (tmp_path / "dump").write_text("\n".join(lines) + "\n")
    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    packages = root / "var/lib/rpm/Packages"
    subprocess.run(["db5.3_load", "-f", str(tmp_path / "dump"), str(packages)], check=True)
    sbom = generate(DirFiles(root))
    assert {(p.name, p.version) for p in sbom.packages} == _rpm_qa(rpm_root)
    assert {p.evidence[0].path for p in sbom.packages} == {"var/lib/rpm/Packages"}
    assert sbom.warnings == []
    image = build_image(tree_spec(root))
    assert [p.name for p in generate(image).packages] == ["hello", "libfoo"]
    raw = bytearray(packages.read_bytes())
    overflow = next(n for n in range(1, len(raw) // 4096) if raw[n * 4096 + 25] == 7)
    raw[overflow * 4096 + 25] = 0  # one blob's first overflow page loses its type
    packages.write_bytes(bytes(raw))
    sbom = generate(DirFiles(root))
    assert len(sbom.packages) == 1 and len(sbom.warnings) == 1
    assert sbom.warnings[0].startswith("var/lib/rpm/Packages: hash page ")
    assert sbom.warnings[0].endswith(
        f"page {overflow} in an overflow chain is not an overflow page; skipped"
    )
    raw[12:16] = bytes(4)  # the hash magic
    packages.write_bytes(bytes(raw))
    sbom = generate(DirFiles(root))
    assert sbom.packages == []
    assert sbom.warnings == [
        "var/lib/rpm/Packages: not a readable rpmdb: no Berkeley DB hash magic"
    ]


def _ndb(blobs: list[bytes]) -> bytes:
    """An ndb Packages.db holding ``blobs``, laid out as rpm's ndb backend writes it
    (Debian's rpm is built without ndb, so the real headers are framed here)."""
    import struct
    import zlib

    slots = bytearray(4096)
    struct.pack_into(
        "<IIIII",
        slots,
        0,
        int.from_bytes(b"RpmP", "little"),
        0,  # version
        1,  # generation
        1,  # slot pages
        len(blobs) + 1,  # next pkgidx
    )
    for off in range(32, 4096, 16):
        struct.pack_into("<I", slots, off, int.from_bytes(b"Slot", "little"))
    data = bytearray()
    blk = 4096 // 16
    for i, blob in enumerate(blobs, 1):
        blkcnt = (16 + len(blob) + 12 + 15) // 16
        head = struct.pack("<IIII", int.from_bytes(b"BlbS", "little"), i, 0, len(blob))
        body = head + blob + bytes(blkcnt * 16 - 16 - len(blob) - 12)
        tail = struct.pack("<III", zlib.adler32(body), len(blob), int.from_bytes(b"BlbE", "little"))
        struct.pack_into(
            "<IIII", slots, 32 + 16 * (i - 1), int.from_bytes(b"Slot", "little"), i, blk, blkcnt
        )
        data += body + tail
        blk += blkcnt
    return bytes(slots) + bytes(data)


def test_ndb_rpmdb(rpm_root: Path, tmp_path: Path) -> None:
    blobs = [b for _, b in _blobs(rpm_root)]
    root = tmp_path / "root"
    (root / "usr/lib/sysimage/rpm").mkdir(parents=True)
    ndb = root / "usr/lib/sysimage/rpm/Packages.db"
    ndb.write_bytes(_ndb(blobs))
    sbom = generate(DirFiles(root))
    assert {(p.name, p.version) for p in sbom.packages} == _rpm_qa(rpm_root)
    assert {p.evidence[0].path for p in sbom.packages} == {"usr/lib/sysimage/rpm/Packages.db"}
    assert len(sbom.relationships) == 1 and sbom.warnings == []
    raw = bytearray(ndb.read_bytes())
    raw[4096 + 100] ^= 0xFF  # inside the first blob
    ndb.write_bytes(bytes(raw))
    sbom = generate(DirFiles(root))
    assert len(sbom.packages) == 1
    assert sbom.warnings == [
        "usr/lib/sysimage/rpm/Packages.db: package 1: blob checksum (adler32) does not match; "
        "skipped"
    ]
    ndb.write_bytes(b"RpmP" + bytes(100))
    sbom = generate(DirFiles(root))
    assert sbom.packages == [] and sbom.warnings[0].startswith(
        "usr/lib/sysimage/rpm/Packages.db: not a readable rpmdb: "
    )


def _header(entries: list[tuple[int, int, int, int]], data: bytes) -> bytes:
    import struct

    head = struct.pack(">II", len(entries), len(data))
    return head + b"".join(struct.pack(">IIiI", *e) for e in entries) + data


def test_header_parser_reads_and_refuses_damage() -> None:
    good = _header([(1000, 6, 0, 1), (1003, 4, 4, 1)], b"abc\0\0\0\0\7")
    assert parse_header(good).values == {1000: "abc", 1003: (7,)}
    for blob in (
        b"",
        b"\0\0\0\1",  # counts cut short
        b"\0\0\0\1\0\0\0\0",  # one entry announced, none there
        _header([(1000, 6, 0, 1)], b"abcd"),  # a string without its NUL
        _header([(1003, 4, 2, 1)], b"abcd"),  # an integer past the data
        _header([(1000, 6, -5, 1)], b"abc\0"),  # a negative offset
        b"\0\1\0\0\0\0\0\0",  # 65536 entries: over rpm's limit
    ):
        with pytest.raises(HeaderError):
            parse_header(blob)
