"""The dpkg cataloger, on fixtures and on a real debootstrapped Debian against dpkg-query."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from imageforge.sbom import DirFiles, SourceInfo, generate
from imageforge.sbom.catalogers import DpkgCataloger
from imageforge.sbom.catalogers._dpkg import copyright_licenses, debian_license
from imageforge.transports import open_source, select_platform
from tests.conftest import need_binary
from tests.sbom.conftest import COPYRIGHT, dpkg_tree


@pytest.mark.parametrize(
    ("name", "spdx"),
    [
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-3", "GPL-3.0-only"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("Expat", "MIT"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("public-domain", "public-domain"),
    ],
)
def test_debian_license_names(name: str, spdx: str) -> None:
    assert debian_license(name) == spdx


def test_copyright_licenses_as_syft_reads_them() -> None:
    assert copyright_licenses(COPYRIGHT) == ("GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later")


def test_package_fields(tmp_path: Path) -> None:
    files = DirFiles(dpkg_tree(tmp_path / "root"))
    warnings: list[str] = []
    pkgs = {
        p.name: p for p in DpkgCataloger().catalog(files, lambda path, m: warnings.append(path + m))
    }
    bash, libc, gcc = pkgs["bash"], pkgs["libc6"], pkgs["libgcc-s1"]
    assert bash.files == ("bin", "bin/bash", "usr/share/doc/bash/copyright")
    assert bash.licenses == ("GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later")
    assert bash.depends_on == ("libc6", "base-files")
    assert bash.cpes == ("cpe:2.3:a:bash:bash:5.2.15-2\\+b2:*:*:*:*:*:*:*",)
    assert libc.files == ("lib/x86_64-linux-gnu/libc.so.6",)  # from libc6:amd64.list
    assert (libc.source_name, libc.source_version) == ("glibc", "2.36-9+deb12u4")
    assert libc.depends_on == ("libgcc-s1",)
    assert libc.supplier == "GNU Libc Maintainers <debian-glibc@lists.debian.org>"
    assert (gcc.source_name, gcc.source_version) == ("gcc-12", "12.2.0-14")
    assert gcc.purl == "pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&upstream=gcc-12%4012.2.0-14"
    assert "removed-long-ago" not in pkgs
    assert warnings == []


def test_distroless_status_d(tmp_path: Path) -> None:
    root = tmp_path / "root"
    status_d = root / "var/lib/dpkg/status.d"
    status_d.mkdir(parents=True)
    (status_d / "base").write_text("Package: base-files\nVersion: 12.4\nArchitecture: amd64\n")
    (status_d / "tzdata").write_text("Package: tzdata\nVersion: 2024a-0+deb12u1\n")
    (status_d / "tzdata.md5sums").write_text("abc  usr/share/zoneinfo/UTC\n")
    sbom = generate(DirFiles(root))
    assert [(p.name, p.version, p.evidence[0].path) for p in sbom.packages] == [
        ("base-files", "12.4", "var/lib/dpkg/status.d/base"),
        ("tzdata", "2024a-0+deb12u1", "var/lib/dpkg/status.d/tzdata"),
    ]


def _dpkg_query(rootfs: Path) -> set[tuple[str, str]]:
    need_binary("dpkg-query")
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${Package}\t${Version}\n",  # not binary:Package, which adds :ARCH
            f"--admindir={rootfs / 'var/lib/dpkg'}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {tuple(line.split("\t")[:2]) for line in out.splitlines() if line}  # type: ignore[misc]


@pytest.mark.slow
def test_debian_rootfs_and_image_equal_dpkg_query(debian_slim) -> None:  # type: ignore[no-untyped-def]
    expected = _dpkg_query(debian_slim.rootfs)
    assert len(expected) > 50
    from_dir = generate(DirFiles(debian_slim.rootfs))
    assert {(p.name, p.version) for p in from_dir.packages} == expected
    assert from_dir.distro is not None and from_dir.distro.id == "debian"
    assert from_dir.warnings == []
    with open_source(f"oci:{debian_slim.layout}:bookworm-slim") as obj:
        image = select_platform(obj)
        layers = {str(layer.digest) for layer in image.layers()}
        from_image = generate(image, SourceInfo(kind="image", name="bookworm-slim"))
    assert [(p.name, p.version, p.purl, p.files, p.licenses) for p in from_image.packages] == [
        (p.name, p.version, p.purl, p.files, p.licenses) for p in from_dir.packages
    ]
    assert all(e.layer in layers for p in from_image.packages for e in p.evidence)
    assert from_image.warnings == []
    assert from_image.source.digest == str(image.digest)
    assert sum(1 for p in from_image.packages if p.licenses) > len(expected) // 2
