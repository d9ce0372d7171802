"""Suppressions from the files teams keep: .trivyignore (and its YAML form), .grype.yaml,
``[scan.ignore]`` with a reason and an expiry, OpenVEX and CycloneDX VEX."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.policy import load_policy
from imageforge.sbom import Distro
from imageforge.vuln import (
    Finding,
    IgnoreRule,
    VulnDB,
    apply_suppressions,
    findings_document,
    load_ignore_file,
    load_vex,
    match_packages,
    rules_from_policy,
)
from tests.vuln.test_match import deb, npm, pypi

TODAY = dt.date(2026, 12, 5)


@pytest.fixture
def findings(real_db: VulnDB) -> list[Finding]:
    packages = [
        pypi(
            "requests",
            "2.19.1",
            "usr/local/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA",
        ),
        npm("lodash", "4.17.11"),
        deb("libcurl4", "7.88.1-10+deb12u3", "curl"),
        deb("coreutils", "9.1-1"),
    ]
    return match_packages(packages, real_db, Distro("debian", "12")).vulnerabilities


def _kept(findings: list[Finding], rules: list[IgnoreRule], today: dt.date = TODAY) -> set[str]:
    return {f.id for f in apply_suppressions(findings, rules, today).kept}


ALL = {
    "CVE-2018-18074",
    "CVE-2023-32681",
    "CVE-2019-10744",
    "CVE-2023-38545",
    "CVE-2023-38546",
    "CVE-2016-2781",
}


def test_the_findings_under_test(findings: list[Finding]) -> None:
    assert {f.id for f in findings} == ALL


def test_trivyignore_by_id_or_alias_with_expiry(tmp_path: Path, findings: list[Finding]) -> None:
    path = tmp_path / ".trivyignore"
    path.write_text(
        "# accepted risks\n"
        "CVE-2023-38545\n"
        "GHSA-x84v-xcm2-53pg  # an alias of CVE-2018-18074\n"
        "CVE-2019-10744 exp:2026-12-01\n"  # expired
        "CVE-2016-2781 exp:2027-06-30\n"
    )
    rules = load_ignore_file(path)
    result = apply_suppressions(findings, rules, TODAY)
    assert {f.id for f in result.kept} == ALL - {
        "CVE-2023-38545",
        "CVE-2018-18074",
        "CVE-2016-2781",
    }
    [warning] = result.warnings
    assert f"{path}:4" in warning and "expired on 2026-12-01" in warning
    [hidden] = [f for f in result.suppressed if f.id == "CVE-2018-18074"]
    assert hidden.suppressed is not None and hidden.suppressed.origin == f"{path}:3"
    assert findings_document([], [], result.suppressed)["suppressed"][0]["suppressedBy"][
        "origin"
    ].startswith(str(path))


def test_trivyignore_yaml_with_purls_and_paths(tmp_path: Path, findings: list[Finding]) -> None:
    path = tmp_path / ".trivyignore.yaml"
    path.write_text(
        "vulnerabilities:\n"
        "  - id: CVE-2019-10744\n"
        "    purls: [pkg:npm/lodash@4.17.11]\n"
        "    statement: defaultsDeep is never called\n"
        "  - id: CVE-2018-18074\n"
        "    paths: [usr/lib/python3/dist-packages]\n"  # not where this requests is
        "  - id: CVE-2023-32681\n"
        "    paths: [/usr/local/lib/python3.11/site-packages]\n"
        "    expired_at: 2027-01-01\n"
    )
    assert _kept(findings, load_ignore_file(path)) == ALL - {"CVE-2019-10744", "CVE-2023-32681"}


def test_grype_ignore_rules(tmp_path: Path, findings: list[Finding]) -> None:
    path = tmp_path / ".grype.yaml"
    path.write_text(
        "ignore:\n"
        "  - vulnerability: CVE-2023-38546\n"
        "    package: {name: libcurl4, type: deb}\n"
        "  - vulnerability: CVE-2023-38545\n"
        "    package: {name: libcurl4, version: 1.0.0}\n"  # another version: no match
        "  - fix-state: wont-fix\n"
        "  - vulnerability: CVE-2019-10744\n"
        "    package: {upstream-name: lodash-es}\n"
    )
    assert _kept(findings, load_ignore_file(path)) == ALL - {"CVE-2023-38546", "CVE-2016-2781"}


def test_a_grype_rule_that_matches_everything_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".grype.yaml"
    path.write_text("ignore:\n  - reason: everything\n")
    with pytest.raises(InvalidArgument, match="matches everything"):
        load_ignore_file(path)


def test_policy_scan_ignore_needs_a_reason_and_expires(
    tmp_path: Path, findings: list[Finding]
) -> None:
    path = tmp_path / "imageforge.toml"
    path.write_text(
        "[scan.ignore]\n"
        '"CVE-2023-32681" = { reason = "no proxies are used", expires = 2027-01-31 }\n'
        '"CVE-2019-10744" = { reason = "defaultsDeep is never called", packages = ["lodash"] }\n'
        '"CVE-2023-38545" = { reason = "socks5 is not built", expires = 2026-11-30 }\n'
    )
    policy = load_policy(path)
    result = apply_suppressions(findings, rules_from_policy(policy.scan, policy.source), TODAY)
    assert {f.id for f in result.kept} == ALL - {"CVE-2023-32681", "CVE-2019-10744"}
    [warning] = result.warnings
    assert "CVE-2023-38545 expired on 2026-11-30" in warning and "socks5 is not built" in warning
    assert {f.suppressed.reason for f in result.suppressed if f.suppressed} == {
        "no proxies are used",
        "defaultsDeep is never called",
    }
    path.write_text('[scan.ignore]\n"CVE-2023-32681" = { expires = 2027-01-31 }\n')
    with pytest.raises(InvalidArgument, match="has no reason") as err:
        load_policy(path)
    assert err.value.hint is not None and "reason" in err.value.hint


def test_openvex_not_affected_suppresses_with_its_justification(
    tmp_path: Path, findings: list[Finding]
) -> None:
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "team",
        "timestamp": "2026-12-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2019-10744"},
                "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
            },
            {
                "vulnerability": {"name": "CVE-2023-38545"},
                "products": [{"@id": "pkg:oci/app@sha256:abc"}],
                "subcomponents": [{"@id": "pkg:deb/debian/libcurl4"}],
                "status": "not_affected",
                "justification": "vulnerable_code_cannot_be_controlled_by_adversary",
            },
            {
                "vulnerability": {"name": "CVE-2016-2781"},
                "products": [{"@id": "pkg:oci/app"}],
                "status": "under_investigation",
            },
            {
                "vulnerability": {"name": "CVE-2023-32681"},
                "products": [{"@id": "pkg:npm/other@1.0.0"}],
                "status": "not_affected",
                "justification": "component_not_present",
            },
        ],
    }
    path = tmp_path / "app.openvex.json"
    path.write_text(json.dumps(doc))
    result = apply_suppressions(findings, load_vex(path), TODAY)
    assert {f.id for f in result.kept} == ALL - {"CVE-2019-10744", "CVE-2023-38545"}
    shown = {
        f["id"]: f["suppressedBy"]
        for f in findings_document([], [], result.suppressed)["suppressed"]
    }
    assert shown["CVE-2019-10744"]["vexStatus"] == "not_affected"
    assert shown["CVE-2019-10744"]["justification"] == "vulnerable_code_not_in_execute_path"


def test_cyclonedx_vex_states(tmp_path: Path, findings: list[Finding]) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {
                "bom-ref": "lodash-ref",
                "type": "library",
                "name": "lodash",
                "purl": "pkg:npm/lodash@4.17.11",
            }
        ],
        "vulnerabilities": [
            {
                "id": "CVE-2019-10744",
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                "affects": [{"ref": "lodash-ref"}],
            },
            {
                "id": "CVE-2018-18074",
                "analysis": {"state": "false_positive"},
                "affects": [{"ref": "pkg:pypi/requests@2.19.1"}],
            },
            {
                "id": "CVE-2023-38546",
                "analysis": {"state": "exploitable"},
                "affects": [{"ref": "pkg:deb/debian/libcurl4"}],
            },
        ],
    }
    path = tmp_path / "vex.cdx.json"
    path.write_text(json.dumps(doc))
    assert _kept(findings, load_vex(path)) == ALL - {"CVE-2019-10744", "CVE-2018-18074"}


def test_a_file_that_is_no_vex_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(InvalidArgument, match="neither OpenVEX nor CycloneDX VEX"):
        load_vex(path)
