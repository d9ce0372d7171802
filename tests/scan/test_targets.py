"""Scanning an image built with known vulnerable versions, its root filesystem and its
SBOMs (imageforge's and syft's, CycloneDX and SPDX): every expected advisory found,
nothing else, the same results from each; the layer and Dockerfile instruction that
brought each package in; bad SBOMs refused clearly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument, NotFound
from imageforge.scan import (
    ScanCache,
    ScanReport,
    read_sbom,
    scan_directory,
    scan_image,
    scan_sbom_file,
)
from imageforge.vuln import VulnDB
from tests.conftest import run_cli

from .conftest import EXPECTED, IMAGE, ok, opened


def found(report: ScanReport) -> set[tuple[str, str, str]]:
    return {(f.id, f.package.name, f.package.version) for f in report.vulnerabilities.findings}


def outcome(report: ScanReport) -> set[tuple[str, str, str, str | None, str, str]]:
    return {
        (f.id, f.package.name, f.package.version, f.fixed_version, f.status, f.severity)
        for f in report.vulnerabilities.findings
    }


def test_the_image_has_every_expected_advisory_and_nothing_else(
    scan_db_root: Path, scan_db: VulnDB, fixture_image: Path
) -> None:
    with opened(scan_db_root) as image:
        report = scan_image(image, scan_db, name=IMAGE)
    assert found(report) == EXPECTED, report.warnings


@pytest.fixture(scope="module")
def image_report(scan_db_root: Path, fixture_image: Path) -> ScanReport:
    with VulnDB.open(scan_db_root) as db, opened(scan_db_root) as image:
        return scan_image(image, db, name=IMAGE)


def test_each_boundary_case(image_report: ScanReport) -> None:
    by_package = {
        (f.package.name, f.package.version) for f in image_report.vulnerabilities.findings
    }
    # exactly the fixed version: lodash 4.17.12, matrix-synapse 1.41.1, libexpat1 2.4.8-2
    assert ("lodash", "4.17.12") not in by_package
    assert ("matrix_synapse", "1.41.1") not in by_package
    assert ("libexpat1", "2.4.8-2") not in by_package
    # a withdrawn record (PYSEC-2022-43059 named aiohttp 0.1)
    assert ("aiohttp", "0.1") not in by_package
    # npm's "requests" 2.19.1 is not PyPI's requests 2.19.1
    npm = [f for f in image_report.vulnerabilities.findings if f.package.type == "npm"]
    assert {f.package.name for f in npm} == {"lodash"}
    # an epoch: 1:4.18.0 is below 2:4.17.3+dfsg-1, whatever the upstream numbers say
    samba = next(f for f in image_report.vulnerabilities.findings if f.id == "CVE-2022-42898")
    assert samba.fixed_version == "2:4.17.3+dfsg-1"
    assert samba.query.via == "source package samba 1:4.18.0+dfsg-1"


def test_statuses_fixes_and_advice(image_report: ScanReport) -> None:
    got = {(f.id, f.package.name): f for f in image_report.vulnerabilities.findings}
    requests = got[("CVE-2018-18074", "requests")]
    assert (requests.fixed_version, requests.status, requests.severity) == (
        "2.20.0",
        "fixed",
        "HIGH",
    )
    assert got[("CVE-2016-2781", "coreutils")].status == "will_not_fix"
    assert got[("CVE-2023-4641", "passwd")].status == "affected"
    assert got[("CVE-2011-3374", "apt")].severity == "LOW"  # urgency unimportant
    gnutls = got[("CVE-2024-0553", "libgnutls30")]
    assert gnutls.fixed_version == "3.7.9-2+deb12u2"
    upgrades = {u.package.name: u for u in image_report.vulnerabilities.upgrades}
    assert upgrades["requests"].advice == "upgrade requests 2.19.1 -> 2.31.0"
    assert set(upgrades["requests"].fixes) == {"CVE-2018-18074", "CVE-2023-32681"}
    assert upgrades["libgnutls30"].advice == (
        "upgrade libgnutls30 3.7.9-2+b1 (source gnutls28 3.7.9-2) "
        "-> a build of gnutls28 3.7.9-2+deb12u4"
    )
    assert upgrades["stdlib"].advice == (
        "upgrade Go stdlib go1.19.8 -> 1.19.10 (rebuild the binary with Go 1.19.10)"
    )
    assert upgrades["passwd"].to is None and upgrades["passwd"].unfixed == ("CVE-2023-4641",)


def test_a_language_package_an_os_package_installed_is_reported_once(
    image_report: ScanReport,
) -> None:
    # python3-requests installed requests 2.28.1's metadata: left to the Debian package
    owned = [(p.name, p.version) for p in image_report.vulnerabilities.owned]
    assert owned == [("requests", "2.28.1")]
    assert not any(f.package.version == "2.28.1" for f in image_report.vulnerabilities.findings)


def test_each_finding_names_its_layer_and_instruction(image_report: ScanReport) -> None:
    layers = {
        f.package.name: (f.layer.number, f.layer.created_by)
        for f in image_report.vulnerabilities.findings
        if f.layer is not None
    }
    assert len(layers) == len({f.package.name for f in image_report.vulnerabilities.findings})
    # the base image's packages come from the first copy of var/lib/dpkg/status, those
    # the "apt-get install" added from the second, though the final copy is the second
    assert layers["coreutils"] == (1, "COPY base/ /")
    assert layers["passwd"] == (1, "COPY base/ /")
    assert layers["libcurl4"] == (2, "COPY installed/ /")
    assert layers["samba-libs"] == (2, "COPY installed/ /")
    assert layers["requests"] == (3, "COPY site-packages/ /usr/local/lib/python3.11/site-packages/")
    assert layers["lodash"] == (4, "COPY node_modules/ /app/node_modules/")
    assert layers["log4j-core"] == (5, "COPY lib/ /app/lib/")
    assert layers["stdlib"] == layers["golang.org/x/text"] == (6, "COPY hello /usr/local/bin/hello")
    assert layers["time"] == (7, "COPY rust/ /src/rust/")
    assert layers["rack"] == (8, "COPY ruby/ /src/ruby/")
    some = image_report.vulnerabilities.findings[0]
    assert some.layer is not None and some.layer.digest.startswith("sha256:")
    assert some.layer.diff_id is not None and some.layer.diff_id.startswith("sha256:")


def test_the_root_filesystem_gives_the_same_results(
    scan_db: VulnDB, image_report: ScanReport, fixture_rootfs: Path
) -> None:
    report = scan_directory(fixture_rootfs, scan_db)
    assert outcome(report) == outcome(image_report)
    assert all(f.layer is None for f in report.vulnerabilities.findings)
    assert [p.name for p in report.vulnerabilities.owned] == ["requests"]


@pytest.mark.parametrize("fmt", ["cyclonedx-json", "spdx-json", "json"])
def test_imageforge_sboms_give_the_same_results(
    scan_db_root: Path, scan_db: VulnDB, image_report: ScanReport, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "sbom.json"
    ok(run_cli(["--root", str(scan_db_root), "sbom", IMAGE, "--format", fmt, "--file", str(out)]))
    report = scan_sbom_file(out, scan_db)
    assert outcome(report) == outcome(image_report)
    assert report.warnings == []
    assert [p.name for p in report.vulnerabilities.owned] == ["requests"]
    if fmt != "spdx-json":  # CycloneDX and imageforge JSON name each package's layer
        image_layers = {
            f.package.name: f.layer.digest for f in image_report.vulnerabilities.findings if f.layer
        }
        sbom_layers = {
            f.package.name: f.layer.digest for f in report.vulnerabilities.findings if f.layer
        }
        assert sbom_layers["requests"] == image_layers["requests"]


@pytest.mark.parametrize("fmt", ["cyclonedx-json", "spdx-json"])
def test_syft_sboms_of_the_image(
    scan_db: VulnDB,
    image_report: ScanReport,
    fixture_image: Path,
    fixture_rootfs: Path,
    tmp_path: Path,
    fmt: str,
) -> None:
    """syft (reading the image's OCI layout) writes purls with its qualifiers
    (upstream=curl, upstream=gnutls28@3.7.9-2, distro=debian-12); its CycloneDX does not
    say which package an OS package owns, so the Debian-installed requests is the one
    addition there; it reads lock files only in directories, so those packages are
    missing."""
    syft = Path(__import__("sys").executable).with_name("syft")
    out = tmp_path / "syft.json"
    env = dict(__import__("os").environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    subprocess.run(
        [str(syft), "scan", f"oci-dir:{fixture_image / 'layout'}", "-o", f"{fmt}={out}", "-q"],
        check=True,
        env=env,
        capture_output=True,
    )
    report = scan_sbom_file(out, scan_db)
    assert report.distro is not None and (report.distro.id, report.distro.version_id) == (
        "debian",
        "12",
    )
    expected = outcome(image_report)
    got = outcome(report)
    extra = got - expected
    # syft reads Cargo.lock and Gemfile.lock only when it scans a directory
    assert {(e[1], e[2]) for e in expected - got} == {("time", "0.1.45"), ("rack", "2.2.3")}
    assert {(e[0], e[1], e[2]) for e in extra} <= {("CVE-2023-32681", "requests", "2.28.1")}


def test_an_sbom_that_is_not_one_is_refused_clearly(scan_db: VulnDB, tmp_path: Path) -> None:
    cases = {
        "notjson.json": (b'{"bomFormat": ', "is not valid JSON"),
        "other.json": (b'{"schemaVersion": 2, "layers": []}', "neither a CycloneDX nor an SPDX"),
        "list.json": (b"[1, 2]", "neither a CycloneDX nor an SPDX"),
        "bom.xml": (b'<?xml version="1.0"?><bom/>', "is XML; only JSON SBOMs are read"),
        "sbom.spdx": (b"SPDXVersion: SPDX-2.3\n", "tag-value"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InvalidArgument, match=message) as info:
            read_sbom(path)
        assert str(path) in info.value.message and info.value.hint
    with pytest.raises(NotFound, match="does not exist"):
        read_sbom(tmp_path / "missing.json")


def test_a_package_with_a_broken_purl_is_one_warning(scan_db: VulnDB, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(
        '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": ['
        '{"type": "library", "bom-ref": "a", "name": "x", "version": "1", "purl": "pkg:"},'
        '{"type": "library", "bom-ref": "b", "name": "requests", "version": "2.19.1",'
        ' "purl": "pkg:pypi/requests@2.19.1"}]}'
    )
    report = scan_sbom_file(path, scan_db)
    assert {f.id for f in report.vulnerabilities.findings} == {"CVE-2018-18074", "CVE-2023-32681"}
    assert len(report.warnings) == 1 and "component a: purl 'pkg:'" in report.warnings[0]


def test_a_cache_entry_that_cannot_be_read_is_a_miss(
    scan_db_root: Path, scan_db: VulnDB, fixture_image: Path, tmp_path: Path
) -> None:
    cache = ScanCache(tmp_path / "cache")
    with opened(scan_db_root) as image:
        first = scan_image(image, scan_db, name=IMAGE, cache=cache)
        [entry] = list((tmp_path / "cache").glob("*.json"))
        entry.write_text('{"format": "imageforge-scan-cache/1", "digest": 7')  # truncated
        again = scan_image(image, scan_db, name=IMAGE, cache=cache)
        hit = scan_image(image, scan_db, name=IMAGE, cache=cache)  # written again
    assert outcome(again) == outcome(first) == outcome(hit)
    assert json.loads(entry.read_text())["digest"] == str(image.digest)
