"""The scan's outputs: SARIF 2.1.0 validated against the OASIS schema, a CycloneDX 1.6
VDR validated against CycloneDX's schema, OpenVEX validated by an independent model and
read back as VEX in, the JSON contract, and the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from vexipy.document import Document

from imageforge.scan import (
    FORMATS,
    Gate,
    ScanOptions,
    ScanReport,
    render,
    render_table,
    scan_image,
    to_json,
)
from imageforge.vuln import VulnDB, load_openvex, load_vex
from tests.report.conftest import SCHEMA_PATH

from .conftest import IMAGE, opened


@pytest.fixture(scope="module")
def report(scan_db_root: Path, fixture_image: Path) -> ScanReport:
    with VulnDB.open(scan_db_root) as db, opened(scan_db_root) as image:
        return scan_image(image, db, name=IMAGE)


def test_sarif_validates_and_has_a_result_per_finding(report: ScanReport) -> None:
    doc = json.loads(render(report, "sarif"))
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    assert len(run["results"]) == len(report.vulnerabilities.findings)
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {f.id for f in report.vulnerabilities.findings}
    log4j = rules["CVE-2021-44228"]
    assert log4j["properties"]["security-severity"] == "10.0"
    assert log4j["defaultConfiguration"]["level"] == "error"
    result = next(r for r in run["results"] if r["ruleId"] == "CVE-2021-44228")
    where = result["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "app/lib/log4j-core-2.14.1.jar"
    assert "upgrade log4j-core 2.14.1 -> 2.15.0" in result["message"]["text"]
    assert "Layer 5: COPY lib/ /app/lib/" in result["message"]["text"]


def test_cyclonedx_vdr_validates_against_1_6(report: ScanReport) -> None:
    text = render(report, "cyclonedx").decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    refs = {c["bom-ref"] for c in doc["components"]}
    vulns = doc["vulnerabilities"]
    assert len(vulns) == len(report.vulnerabilities.findings)
    assert all(a["ref"] in refs for v in vulns for a in v["affects"])
    log4j = next(v for v in vulns if v["id"] == "CVE-2021-44228")
    assert {"method": "CVSSv31", "score": 10.0, "severity": "critical"}.items() <= log4j["ratings"][
        0
    ].items()
    assert log4j["recommendation"] == "upgrade log4j-core 2.14.1 -> 2.15.0"
    pypi = next(v for v in vulns if v["id"] == "CVE-2023-32681")  # no vector: a label
    assert pypi["ratings"] == [{"severity": "unknown", "method": "other"}]


def test_openvex_out_validates_and_reads_back(
    scan_db_root: Path, report: ScanReport, tmp_path: Path
) -> None:
    text = render(report, "openvex").decode()
    Document.from_json(text)  # an independent OpenVEX model accepts it
    doc = json.loads(text)
    assert len(doc["statements"]) == len(report.vulnerabilities.findings)
    assert {s["status"] for s in doc["statements"]} == {"affected"}
    product = doc["statements"][0]["products"][0]["@id"]
    assert product.startswith("pkg:oci/scan-fixture@sha256")
    assert render(report, "openvex") == render(report, "openvex")  # same bytes each time
    # a team states log4j is not affected; the next scan honours it and says so in its VEX
    vex_in = tmp_path / "team.openvex.json"
    vex_in.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.org/vex/1",
                "author": "team",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2021-44228"},
                        "products": [{"@id": product}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                        "impact_statement": "JNDI lookups are disabled",
                    }
                ],
            }
        )
    )
    with VulnDB.open(scan_db_root) as db, opened(scan_db_root) as image:
        again = scan_image(image, db, ScanOptions(rules=tuple(load_vex(vex_in))), name=IMAGE)
    assert "CVE-2021-44228" not in {f.id for f in again.vulnerabilities.findings}
    [hidden] = again.vulnerabilities.suppressed
    assert hidden.id == "CVE-2021-44228"
    out = tmp_path / "out.openvex.json"
    out.write_bytes(render(again, "openvex"))
    Document.from_json(out.read_text())
    statement = next(
        s for s in json.loads(out.read_text())["statements"] if s["status"] == "not_affected"
    )
    assert statement["justification"] == "vulnerable_code_not_in_execute_path"
    assert statement["impact_statement"] == "JNDI lookups are disabled"
    # what imageforge wrote suppresses the same finding when read as VEX in
    rules = load_openvex(out)
    assert {r.id for r in rules} == {"CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q"}  # and its alias
    cdx = json.loads(render(again, "cyclonedx"))
    analysis = next(v for v in cdx["vulnerabilities"] if v["id"] == "CVE-2021-44228")["analysis"]
    assert analysis["state"] == "not_affected" and analysis["justification"] == (
        "code_not_reachable"
    )


def test_the_json_contract(report: ScanReport) -> None:
    doc = json.loads(render(report, "json"))
    assert doc["schema"] == "imageforge-scan/1"
    assert doc["scanners"] == ["vulnerabilities"]
    assert doc["target"]["kind"] == "image" and doc["target"]["digest"].startswith("sha256:")
    assert doc["distro"]["id"] == "debian" and doc["distro"]["versionId"] == "12"
    entry = next(v for v in doc["vulnerabilities"] if v["id"] == "CVE-2018-18074")
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
    assert entry["package"]["purl"] == "pkg:pypi/requests@2.19.1"
    assert entry["package"]["ecosystem"] == "PyPI"
    assert entry["advice"] == "upgrade requests 2.19.1 -> 2.20.0"
    assert entry["layer"]["number"] == 3
    assert entry["layer"]["createdBy"].startswith("COPY site-packages/")
    assert doc["summary"]["vulnerabilities"]["total"] == len(doc["vulnerabilities"])
    assert doc["summary"]["vulnerabilities"]["bySeverity"]["CRITICAL"] == 2
    assert doc["informational"][0]["id"] == "RUSTSEC-2021-0139"
    assert doc["gate"] == {
        "severities": None,
        "minCvss": None,
        "ignoreUnfixed": False,
        "exitCode": None,
        "failing": 0,
        "passed": True,
    }
    upgrade = next(u for u in doc["upgrades"] if u["package"]["name"] == "requests")
    assert upgrade["to"] == "2.31.0"


def test_the_table_groups_by_package_with_layer_and_advice(report: ScanReport) -> None:
    text = render_table(report).decode()
    assert "\x1b[" not in text  # no colour outside a terminal
    assert f"{IMAGE} (image, Debian GNU/Linux 12 (bookworm), " in text
    total = len(report.vulnerabilities.findings)
    assert f"Vulnerabilities: {total} (CRITICAL: 2, HIGH: 2, MEDIUM: 1, LOW: 2, " in text
    block = text[text.index("requests 2.19.1 (python)") :]
    assert "layer 3: COPY site-packages/ /usr/local/lib/python3.11/site-packages/" in block
    assert "upgrade requests 2.19.1 -> 2.31.0 (fixes 2 of 2)" in block
    assert "CVE-2018-18074" in block and "2.20.0" in block
    assert "1 language package left to their OS package" in text
    assert "RUSTSEC-2021-0139  ansi_term 0.12.1  unmaintained" in text
    colored = render_table(report, color=True).decode()
    assert "\x1b[1;31mCRITICAL" in colored


def test_every_format_renders(report: ScanReport) -> None:
    for fmt in FORMATS:
        assert render(report, fmt)


def _gated(scan_db_root: Path, gate: Gate) -> ScanReport:
    with VulnDB.open(scan_db_root) as db, opened(scan_db_root) as image:
        return scan_image(image, db, ScanOptions(gate=gate), name=IMAGE)


def test_the_gate_filters_and_fails(scan_db_root: Path, report: ScanReport) -> None:
    assert report.exit_code == 0  # no threshold: never fails
    high = _gated(scan_db_root, Gate(severities=frozenset({"CRITICAL", "HIGH"})))
    assert {f.severity for f in high.vulnerabilities.findings} == {"CRITICAL", "HIGH"}
    assert high.exit_code == 1 and high.failing() == len(high.vulnerabilities.findings)
    assert high.vulnerabilities.filtered == len(report.vulnerabilities.findings) - len(
        high.vulnerabilities.findings
    )
    cvss = _gated(scan_db_root, Gate(min_cvss=9.0, exit_code=3))
    assert {f.id for f in cvss.vulnerabilities.findings} == {"CVE-2021-44228", "CVE-2019-10744"}
    assert cvss.exit_code == 3
    none = _gated(scan_db_root, Gate(min_cvss=10.0, severities=frozenset({"UNKNOWN"})))
    assert none.exit_code == 1  # UNKNOWN ones (no vector, no label) reach it
    nothing = _gated(scan_db_root, Gate(min_cvss=10.5))
    assert nothing.vulnerabilities.findings == [] and nothing.exit_code == 0
    unfixed = _gated(scan_db_root, Gate(ignore_unfixed=True))
    assert all(f.fixed_version for f in unfixed.vulnerabilities.findings)
    assert unfixed.exit_code == 0
    any_finding = _gated(scan_db_root, Gate(exit_code=5))  # trivy's --exit-code alone
    assert any_finding.exit_code == 5
    doc = to_json(high)
    assert doc["gate"]["passed"] is False and doc["gate"]["severities"] == ["CRITICAL", "HIGH"]
    assert "FAILED: " in render_table(high).decode()
