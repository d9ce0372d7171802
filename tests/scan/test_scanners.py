"""``scan --scanners vuln,secret,misconfig,license``: the three scanners beside the
vulnerabilities in one report (JSON lists, SARIF, table), the gate and the licence
policy deciding the exit code, suppressions by id, and what each target kind allows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imageforge.policy import LicensePolicy
from imageforge.scan import (
    Gate,
    LicenseSection,
    ScanOptions,
    SecretSection,
    render,
    render_table,
    scan_directory,
    scan_image,
    scan_sbom_file,
)
from imageforge.vuln import IgnoreRule
from tests.conftest import run_cli
from tests.secrets.conftest import make_image
from tests.secrets.corpus import Sample, samples

from .conftest import IMAGE, ok

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "report" / "data" / "sarif-schema-2.1.0.json"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"
ALL = frozenset({"secret", "misconfig", "license"})


@pytest.fixture(scope="module")
def planted() -> list[Sample]:
    return samples(seed=21)


def _image(planted: list[Sample]) -> Any:
    gh = next(s for s in planted if s.rule == "github-pat").secret.encode()
    pkg = json.dumps({"name": "left-pad", "version": "1.3.0", "license": "AGPL-3.0-only"})
    return make_image(
        [
            ("ADD file:0123 in /", {"etc/passwd": PASSWD}),
            ("COPY app /srv", {"srv/run.sh": b"GH=" + gh + b"\n",
                               "srv/node_modules/left-pad/package.json": pkg.encode()}),
            ("RUN rm /srv/run.sh", {"srv/run.sh": "whiteout"}),
        ],
        config={"ExposedPorts": {"22/tcp": {}}},
    )  # fmt: skip


def test_the_three_scanners_beside_each_other_need_no_database(planted: list[Sample]) -> None:
    report = scan_image(_image(planted), None, ScanOptions(scanners=ALL), name="app:1")

    doc = json.loads(render(report, "json"))
    assert doc["scanners"] == ["secrets", "misconfigurations", "licenses"]
    (secret,) = doc["secrets"]
    assert secret["rule"] == "github-pat" and secret["visible"] is False
    assert secret["hiddenBy"]["how"] == "deleted"
    assert {m["id"] for m in doc["misconfigurations"]} >= {"IM501", "IM503", "IM701"}
    (licence,) = doc["licenses"]
    assert (licence["package"]["name"], licence["category"]) == ("left-pad", "forbidden")
    # the licence policy fails the scan without a gate; nothing else does
    assert report.exit_code == 1 and report.failing() == 1
    table = render_table(report).decode()
    for heading in ("Secrets: 1", "Image configuration:", "Licences: 1 packages"):
        assert heading in table
    assert "FAILED: 1 finding reaches the licence policy" in table
    sarif = json.loads(render(report, "sarif"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)
    rule_ids = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert {"github-pat", "IM501", "license-forbidden"} <= rule_ids
    token = next(s for s in planted if s.rule == "github-pat").secret
    assert token not in json.dumps(doc) + table + json.dumps(sarif)


def test_the_gate_counts_secrets_and_misconfigurations_by_severity(
    planted: list[Sample],
) -> None:
    image = _image(planted)
    licences_allowed = LicensePolicy(allow=("AGPL-3.0-only",))

    def failing(gate: Gate) -> int:
        options = ScanOptions(scanners=ALL, gate=gate, license=licences_allowed)
        return scan_image(image, None, options).failing()

    assert failing(Gate()) == 0
    assert failing(Gate(severities=frozenset({"CRITICAL"}))) == 1  # the GitHub token
    assert failing(Gate(severities=frozenset({"CRITICAL", "HIGH"}))) == 2  # and root
    assert failing(Gate(min_cvss=7.0)) == 2
    # --exit-code alone: any finding
    assert failing(Gate(exit_code=3)) >= 5


def test_suppressions_by_id_reach_every_scanner(planted: list[Sample]) -> None:
    rules = (
        IgnoreRule("github-pat", ".trivyignore:1", "rotated"),
        IgnoreRule("IM501", "imageforge.toml [scan.ignore]", "runs as root on purpose"),
        IgnoreRule("AGPL-3.0-only", "imageforge.toml [scan.ignore]", "internal only"),
    )
    report = scan_image(_image(planted), None, ScanOptions(scanners=ALL, rules=rules))

    doc = json.loads(render(report, "json"))
    assert doc["secrets"] == [] and doc["licenses"] == []
    assert "IM501" not in {m["id"] for m in doc["misconfigurations"]}
    assert report.exit_code == 0
    secret = next(s for s in report.sections if isinstance(s, SecretSection))
    (hidden,) = secret.result.suppressed
    assert hidden.suppressed_by is not None and hidden.suppressed_by.reason == "rotated"
    licence = next(s for s in report.sections if isinstance(s, LicenseSection))
    (accepted,) = licence.result.suppressed
    assert accepted.suppressed_by is not None
    assert accepted.suppressed_by.reason == "internal only"


def test_a_directory_gets_secrets_and_licences_an_sbom_licences(
    planted: list[Sample], tmp_path: Path
) -> None:
    gh = next(s for s in planted if s.rule == "github-pat").secret
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv/run.sh").write_text(f"GH={gh}\n")
    report = scan_directory(tmp_path, None, ScanOptions(scanners=ALL))
    assert [s.kind for s in report.sections] == ["secrets", "licenses"]
    assert any("misconfig: the image configuration checks need an image" in w
               for w in report.warnings)  # fmt: skip
    sbom = tmp_path / "empty.cdx.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}))
    from_sbom = scan_sbom_file(sbom, None, ScanOptions(scanners=ALL))
    assert [s.kind for s in from_sbom.sections] == ["licenses"]
    assert any("secret: an SBOM holds no files" in w for w in from_sbom.warnings)


def test_the_command_line(scan_db_root: Path, fixture_image: Path, tmp_path: Path) -> None:
    def scan(root: Path, *args: str) -> Any:
        return run_cli(["--root", str(root), "scan", *args, "--offline", "--progress", "quiet"])

    # the default is vuln,secret, as trivy's
    doc = json.loads(ok(scan(scan_db_root, IMAGE, "--format", "json")).stdout)
    assert doc["scanners"] == ["vulnerabilities", "secrets"]
    both = json.loads(
        ok(scan(scan_db_root, IMAGE, "--scanners", "config,license", "--format", "json")).stdout
    )
    assert both["scanners"] == ["misconfigurations", "licenses"]
    bad = scan(scan_db_root, IMAGE, "--scanners", "vuln,malware")
    assert bad.returncode == 2 and "unknown scanner malware" in bad.stderr
    # without the vulnerability scan no database is needed
    empty = tmp_path / "empty-root"
    ok(run_cli(["--root", str(scan_db_root), "export", IMAGE, f"oci:{tmp_path / 'l'}:app"]))
    alone = scan(empty, f"oci:{tmp_path / 'l'}:app", "--scanners", "secret", "--format", "json")
    assert ok(alone).stdout and json.loads(alone.stdout)["scanners"] == ["secrets"]


def test_a_warm_scan_keeps_secrets_and_configuration_without_reading_a_layer(
    planted: list[Sample], tmp_path: Path
) -> None:
    from imageforge.oci import Digest
    from imageforge.scan import ScanCache

    blobs: dict[Digest, bytes] = {}
    gh = next(s for s in planted if s.rule == "github-pat").secret.encode()
    image = make_image(
        [("ADD file:0 in /", {"etc/passwd": PASSWD}), ("COPY x /x", {"x/run.sh": b"GH=" + gh})],
        blobs=blobs,
    )
    options = ScanOptions(scanners=frozenset({"secret", "misconfig"}))
    cache = ScanCache(tmp_path / "scan-cache")
    first = json.loads(render(scan_image(image, None, options, cache=cache), "json"))
    for digest in blobs:  # nothing left to read: a read would warn of a damaged layer
        blobs[digest] = b""

    warm = json.loads(render(scan_image(image, None, options, cache=cache), "json"))

    assert warm["secrets"] == first["secrets"] and len(first["secrets"]) == 1
    assert warm["misconfigurations"] == first["misconfigurations"]
    assert warm["warnings"] == []
    # other settings are another entry: the image is read again (and now cannot be)
    other = ScanOptions(scanners=frozenset({"misconfig"}), misconfig=_no_healthcheck_check())
    cold = scan_image(image, None, other, cache=cache)
    assert any("layer #1" in w for w in cold.warnings), cold.warnings


def _no_healthcheck_check() -> Any:
    from imageforge.policy import MisconfigPolicy

    return MisconfigPolicy(disable=("IM701",))
