"""Matching SBOM packages against real advisory records: every expected advisory found,
nothing else, and each boundary case (exactly the fixed version, a withdrawn record,
another ecosystem's package of the same name, an epoch, last_affected, limit, a binNMU
matched through its source package, Debian's per-release status, aliases merged)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.sbom import Distro, Evidence, Package, purl
from imageforge.vuln import (
    Finding,
    MatchOptions,
    VulnDB,
    filter_findings,
    findings_document,
    import_source,
    match_packages,
    parse_severities,
)

BOOKWORM = Distro("debian", "12", "Debian GNU/Linux 12 (bookworm)")
SID = Distro("debian", None, "Debian GNU/Linux trixie/sid")


def pypi(name: str, version: str, path: str | None = None) -> Package:
    evidence = (Evidence(path),) if path else ()
    return Package(name, version, "python", purl("pypi", name, version), evidence=evidence)


def npm(name: str, version: str) -> Package:
    return Package(name, version, "npm", purl("npm", name, version))


def deb(
    name: str,
    version: str,
    source: str | None = None,
    source_version: str | None = None,
    files: tuple[str, ...] = (),
) -> Package:
    quals = {"arch": "amd64", "upstream": source or ""}
    return Package(
        name,
        version,
        "deb",
        purl("deb", name, version, namespace="debian", qualifiers=quals),
        source_name=source,
        source_version=source_version or (version if source else None),
        files=files,
    )


def go(module: str, version: str) -> Package:
    namespace, _, name = module.rpartition("/")
    return Package(module, version, "go-module", purl("golang", name, version, namespace=namespace))


def stdlib(version: str) -> Package:
    return Package(
        "stdlib", version, "go-module", purl("golang", "stdlib", version.removeprefix("go"))
    )


def crate(name: str, version: str) -> Package:
    return Package(name, version, "rust-crate", purl("cargo", name, version))


def maven(group: str, artifact: str, version: str) -> Package:
    return Package(
        artifact,
        version,
        "java-archive",
        purl("maven", artifact, version, namespace=group),
        metadata={"group_id": group},
    )


def found(
    db: VulnDB, *packages: Package, distro: Distro | None = BOOKWORM, **kw: object
) -> dict[str, dict[str, object]]:
    result = match_packages(packages, db, distro, MatchOptions(**kw))  # type: ignore[arg-type]
    assert result.warnings == []
    return {
        f.id: {
            "fixed": f.fixed_version,
            "status": f.status,
            "severity": f.severity,
            "aliases": f.aliases,
            "cvss": f.max_cvss,
            "via": f.query.via,
        }
        for f in result.vulnerabilities
    }


def test_requests_below_the_fix_has_both_problems_each_once(real_db: VulnDB) -> None:
    got = found(real_db, pypi("requests", "2.19.1"))
    assert set(got) == {"CVE-2018-18074", "CVE-2023-32681"}
    # GHSA and PYSEC records of one problem are one row, under the CVE
    assert got["CVE-2018-18074"]["aliases"] == ("GHSA-x84v-xcm2-53pg", "PYSEC-2018-28")
    assert got["CVE-2018-18074"]["fixed"] == "2.20.0"
    assert got["CVE-2018-18074"]["severity"] == "HIGH"
    assert got["CVE-2018-18074"]["cvss"] == 7.5  # computed from GHSA's CVSS:3.1 vector
    assert got["CVE-2023-32681"]["fixed"] == "2.31.0"


def test_exactly_the_fixed_version_is_not_affected(real_db: VulnDB) -> None:
    assert set(found(real_db, pypi("requests", "2.20.0"))) == {"CVE-2023-32681"}
    assert found(real_db, pypi("requests", "2.31.0")) == {}
    assert set(found(real_db, pypi("Requests", "2.20.0rc1"))) == {
        "CVE-2018-18074",
        "CVE-2023-32681",
    }


def test_a_record_whose_git_range_breaks_the_schema_still_matches(real_db: VulnDB) -> None:
    # PYSEC-2021-424 (CVE-2021-39163): a GIT range fixed at an abbreviated commit
    got = found(real_db, pypi("matrix-synapse", "1.41.0"))
    assert got["CVE-2021-39163"]["fixed"] == "1.41.1"
    assert got["CVE-2021-39163"]["aliases"] == ("GHSA-jj53-8fmw-f2w2", "PYSEC-2021-424")
    assert found(real_db, pypi("matrix-synapse", "1.41.1")) == {}


def test_a_withdrawn_record_matches_nothing(real_db: VulnDB) -> None:
    # PYSEC-2022-43059 lists aiohttp 0.1; it was withdrawn
    assert found(real_db, pypi("aiohttp", "0.1")) == {}
    assert found(real_db, go("k8s.io/kubernetes", "v1.20.0")) == {}  # GO-2022-0617, withdrawn
    result = match_packages([crate("spin", "0.5.0")], real_db, None)  # RUSTSEC-2019-0031
    assert result.vulnerabilities == [] and result.informational == []


def test_another_ecosystems_package_of_the_same_name_is_not_matched(real_db: VulnDB) -> None:
    assert found(real_db, npm("requests", "2.19.1")) == {}
    assert found(real_db, pypi("lodash", "4.17.11")) == {}
    got = found(real_db, npm("lodash", "4.17.11"))
    assert got["CVE-2019-10744"]["fixed"] == "4.17.12"
    assert got["CVE-2019-10744"]["severity"] == "CRITICAL"  # 9.1
    assert found(real_db, npm("lodash", "4.17.12")) == {}
    assert found(real_db, npm("lodash-es", "4.17.13"))["CVE-2019-10744"]["fixed"] == "4.17.14"


def test_last_affected_includes_that_version_and_gives_no_fix(real_db: VulnDB) -> None:
    got = found(real_db, pypi("py", "1.11.0"))
    assert got["CVE-2022-42969"]["fixed"] is None
    assert got["CVE-2022-42969"]["status"] == "affected"
    assert found(real_db, pypi("py", "1.11.1")) == {}


def test_a_limit_caps_the_range(tmp_path: Path) -> None:
    # No published record of these sources uses `limit`; this one follows the OSV spec's
    # example (a range on a branch capped where the branch ends).
    record = {
        "schema_version": "1.6.0",
        "id": "x_LIMIT-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "limited"},
                "ranges": [
                    {
                        "type": "SEMVER",
                        "events": [
                            {"introduced": "1.0.0"},
                            {"limit": "2.0.0"},
                            {"introduced": "3.0.0"},
                            {"fixed": "3.1.0"},
                            {"limit": "3.5.0"},
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "limit.json").write_text(json.dumps(record))
    import_source(tmp_path / "root", f"osv:{tmp_path / 'limit.json'}", pytest.fail)
    with VulnDB.open(tmp_path / "root") as db:
        assert "x_LIMIT-1" in found(db, npm("limited", "1.5.0"))
        assert "x_LIMIT-1" in found(db, npm("limited", "3.0.5"))
        assert found(db, npm("limited", "3.5.0")) == {}  # at the highest limit
        assert found(db, npm("limited", "0.9.0")) == {}
        assert found(db, npm("limited", "3.1.0")) == {}
        assert found(db, npm("limited", "3.6.0")) == {}


def test_debian_epoch_orders_above_any_plain_version(real_db: VulnDB) -> None:
    # CVE-2023-4641: fixed in sid in shadow 1:4.13+dfsg1-2
    fixed = "1:4.13+dfsg1-2"
    assert found(real_db, deb("passwd", "1:4.13+dfsg1-2", "shadow"), distro=SID) == {}
    got = found(real_db, deb("passwd", "4.14.0-1", "shadow"), distro=SID)  # epoch 0 < epoch 1
    assert got["CVE-2023-4641"]["fixed"] == fixed
    got = found(real_db, deb("passwd", "1:4.13+dfsg1-1", "shadow"))  # bookworm: <no-dsa>
    assert got["CVE-2023-4641"]["status"] == "affected" and got["CVE-2023-4641"]["fixed"] is None


def test_a_binary_package_is_matched_through_its_source_package(real_db: VulnDB) -> None:
    # libcurl4 is built from curl; a DSA fixed bookworm in 7.88.1-10+deb12u4
    got = found(real_db, deb("libcurl4", "7.88.1-10+deb12u3", "curl"))
    assert set(got) == {"CVE-2023-38545", "CVE-2023-38546"}  # two problems, not merged
    assert got["CVE-2023-38545"]["fixed"] == "7.88.1-10+deb12u4"
    assert got["CVE-2023-38545"]["via"] == "source package curl 7.88.1-10+deb12u3"
    assert found(real_db, deb("libcurl4", "7.88.1-10+deb12u4", "curl")) == {}
    assert found(real_db, deb("libcurl4", "7.88.1-10+deb12u3")) == {}  # no such source


def test_a_binnmu_is_matched_with_its_source_version(real_db: VulnDB) -> None:
    # binNMU 3.7.9-2+b1 of gnutls28 3.7.9-2; bookworm's fix of CVE-2024-0553 is +deb12u2
    got = found(real_db, deb("libgnutls30", "3.7.9-2+b1", "gnutls28", "3.7.9-2"))
    assert got["CVE-2024-0553"]["fixed"] == "3.7.9-2+deb12u2"
    assert got["CVE-2024-0553"]["via"] == "source package gnutls28 3.7.9-2"
    # a binNMU of the fixed source is fixed, whatever its binary version says
    assert "CVE-2024-0553" not in found(
        real_db, deb("libgnutls30", "3.7.9-2+deb12u2+b1", "gnutls28", "3.7.9-2+deb12u2")
    )


def test_each_release_has_its_own_status(real_db: VulnDB) -> None:
    coreutils = deb("coreutils", "9.1-1")
    got = found(real_db, coreutils)
    assert "CVE-2024-0684" not in got  # [bookworm] <not-affected>
    assert got["CVE-2016-2781"]["status"] == "will_not_fix"  # [bookworm] <ignored>
    sid = found(real_db, coreutils, distro=SID)
    assert sid["CVE-2024-0684"]["fixed"] == "9.5-1"  # sid has no such line
    # bullseye: fixed through DSA-5523-1 in 7.74.0-1.3+deb11u10
    bullseye = Distro("debian", "11")
    assert (
        found(real_db, deb("curl", "7.74.0-1.3+deb11u9"), distro=bullseye)["CVE-2023-38545"][
            "fixed"
        ]
        == "7.74.0-1.3+deb11u10"
    )


def test_unimportant_issues_are_reported_low_unless_left_out(real_db: VulnDB) -> None:
    apt = deb("apt", "2.6.1")
    got = found(real_db, apt)
    assert got["CVE-2011-3374"]["severity"] == "LOW"
    assert "CVE-2011-3374" not in found(real_db, apt, unimportant=False)


def test_a_language_package_an_os_package_owns_is_reported_once_under_it(real_db: VulnDB) -> None:
    # paths inside the image under test (the package's file list), not on this host
    dist = "usr/lib/python3/dist-packages"
    egg = f"{dist}/requests-2.28.1.egg-info/PKG-INFO"
    os_pkg = deb(
        "python3-requests",
        "2.28.1+dfsg-1",
        "requests",
        files=(f"/{egg}", f"/{dist}/requests/__init__.py"),
    )
    lang = pypi("requests", "2.28.1", egg)
    result = match_packages([os_pkg, lang], real_db, BOOKWORM)
    assert result.owned == [lang]
    assert [f.package.name for f in result.vulnerabilities] == []  # no Debian record names it here
    # the same package installed with pip (not owned) is matched on its own
    pip = pypi(
        "requests",
        "2.28.1",
        "usr/local/lib/python3.11/site-packages/requests-2.28.1.dist-info/METADATA",
    )
    assert {f.id for f in match_packages([os_pkg, pip], real_db, BOOKWORM).vulnerabilities} == {
        "CVE-2023-32681"
    }


def test_go_standard_library_from_the_toolchain_version(real_db: VulnDB) -> None:
    got = found(real_db, stdlib("go1.19.5"))
    assert got["CVE-2023-24534"]["fixed"] == "1.19.8"  # GO-2023-1704
    assert got["CVE-2022-41723"]["fixed"] == "1.19.6"  # GO-2023-1571
    assert got["CVE-2023-24534"]["via"] == "Go toolchain go1.19.5"
    assert set(found(real_db, stdlib("go1.20.2"))) == {"CVE-2023-24534"}
    assert found(real_db, stdlib("go1.20.3")) == {}
    assert set(found(real_db, stdlib("go1.20rc1"))) == {"CVE-2023-24534", "CVE-2022-41723"}


def test_go_modules_with_pseudo_versions(real_db: VulnDB) -> None:
    got = found(real_db, go("golang.org/x/net", "v0.0.0-20210405180319-a5a99cb37ef4"))
    assert got["CVE-2021-31525"]["fixed"] == "0.0.0-20210428140749-89ef3d95e781"
    assert got["CVE-2022-41723"]["fixed"] == "0.7.0"
    assert set(found(real_db, go("golang.org/x/net", "v0.6.0"))) == {"CVE-2022-41723"}
    assert found(real_db, go("golang.org/x/net", "v0.7.0")) == {}


def test_cargo_pre_release_ranges(real_db: VulnDB) -> None:
    # RUSTSEC-2020-0071: pre-releases of 0.2.1 .. 0.2.6 are affected, the releases not
    assert found(real_db, crate("time", "0.2.1-alpha.1"))["CVE-2020-26235"]["fixed"] == "0.2.1"
    assert found(real_db, crate("time", "0.2.1")) == {}
    assert found(real_db, crate("time", "0.1.45"))["CVE-2020-26235"]["fixed"] == "0.2.0"
    assert found(real_db, crate("time", "0.2.7"))["CVE-2020-26235"]["fixed"] == "0.2.23"
    assert found(real_db, crate("time", "0.3.0")) == {}


def test_informational_advisories_are_reported_apart(real_db: VulnDB) -> None:
    result = match_packages([crate("ansi_term", "0.12.1")], real_db, None)
    assert result.vulnerabilities == []
    [info] = result.informational
    assert (info.id, info.informational) == ("RUSTSEC-2021-0139", "unmaintained")
    assert (
        findings_document([], result.informational)["informational"][0]["informational"]
        == "unmaintained"
    )


def test_maven_backport_ranges_give_the_smallest_fix_above(real_db: VulnDB) -> None:
    log4j = "org.apache.logging.log4j"
    assert (
        found(real_db, maven(log4j, "log4j-core", "2.14.1"))["CVE-2021-44228"]["fixed"] == "2.15.0"
    )
    assert (
        found(real_db, maven(log4j, "log4j-core", "2.12.1"))["CVE-2021-44228"]["fixed"] == "2.12.2"
    )
    assert (
        found(real_db, maven(log4j, "log4j-core", "2.0-beta9"))["CVE-2021-44228"]["fixed"]
        == "2.3.1"
    )
    for fixed in ("2.3.1", "2.12.2", "2.15.0", "2.16.0"):
        assert found(real_db, maven(log4j, "log4j-core", fixed)) == {}
    assert found(real_db, maven(log4j, "log4j-core", "2.14.1"))["CVE-2021-44228"]["cvss"] == 10.0


def test_alpine_packages_by_release(real_db: VulnDB) -> None:
    alpine = Distro("alpine", "3.18.4")
    pkg = Package(
        "libssl3",
        "3.1.3-r0",
        "apk",
        "pkg:apk/alpine/libssl3@3.1.3-r0",
        source_name="openssl",
        source_version="3.1.3-r0",
    )
    got = found(real_db, pkg, distro=alpine)
    assert set(got) == {"CVE-2023-5363"} and got["CVE-2023-5363"]["fixed"] == "3.1.4-r0"
    assert found(real_db, pkg, distro=Distro("alpine", "3.19.0")) == {}  # no data for v3.19


def test_filters_by_severity_cvss_and_fix(real_db: VulnDB) -> None:
    packages = [
        pypi("requests", "2.19.1"),
        pypi("py", "1.11.0"),
        deb("coreutils", "9.1-1"),
        npm("lodash", "4.17.11"),
    ]
    findings = match_packages(packages, real_db, BOOKWORM).vulnerabilities

    def ids(fs: list[Finding]) -> set[str]:
        return {f.id for f in fs}

    high = {"CVE-2019-10744", "CVE-2018-18074"}
    assert ids(filter_findings(findings, severities=parse_severities("critical,HIGH"))) == high
    assert ids(filter_findings(findings, min_cvss=7.0)) == high
    # the pypa records carry no severity; Debian's urgency "low" is LOW
    assert ids(filter_findings(findings, severities={"UNKNOWN"})) == {
        "CVE-2022-42969",
        "CVE-2023-32681",
    }
    assert ids(filter_findings(findings, severities={"LOW"})) == {"CVE-2016-2781"}
    assert ids(filter_findings(findings, min_cvss=9.0)) == {"CVE-2019-10744"}
    unfixed = {"CVE-2022-42969", "CVE-2016-2781"}
    assert ids(filter_findings(findings, ignore_unfixed=True)) == ids(findings) - unfixed
    with pytest.raises(Exception, match="unknown severity SEVERE"):
        parse_severities("HIGH,SEVERE")


def test_the_json_contract_of_a_finding(real_db: VulnDB) -> None:
    result = match_packages([deb("libcurl4", "7.88.1-10+deb12u3", "curl")], real_db, BOOKWORM)
    doc = findings_document(result.vulnerabilities)
    entry = doc["vulnerabilities"][0]
    assert {
        "id",
        "aliases",
        "package",
        "severity",
        "cvss",
        "fixedVersion",
        "layer",
        "status",
    } <= set(entry)
    assert entry["package"] == {
        "name": "libcurl4",
        "version": "7.88.1-10+deb12u3",
        "type": "deb",
        "purl": "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u3?arch=amd64&upstream=curl",
        "ecosystem": "Debian:12",
    }
    assert entry["layer"] is None and entry["status"] == "fixed"
    assert entry["related"] == ["DSA-5523-1"]
    json.dumps(doc)  # all of it is JSON
