"""``rescan``: the store's images matched again after a database update report only the
new advisory, on only the image it touches; an image already rescanned with the current
database is not scanned again; exit code and SARIF as ``scan``'s."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from imageforge.vuln import import_source
from tests.conftest import run_cli
from tests.registry.scan_fixtures import CVE, lodash_layout
from tests.remote.conftest import ok
from tests.vuln.conftest import DATA as VULN_DATA

OLD, NEW = "lodash-4-17-11-0:1", "lodash-4-17-12-0:1"  # as lodash_layout names them


def _by_name(doc: dict[str, list[dict[str, object]]]) -> dict[str, dict[str, object]]:
    return {str(i["names"][0]).rsplit("/", 1)[-1]: i for i in doc["images"]}  # type: ignore[index]


def test_rescan_reports_only_the_new_advisory_on_the_image_it_touches(tmp_path: Path) -> None:
    # the database before the update: every record but the lodash advisory
    osv = tmp_path / "osv"
    shutil.copytree(VULN_DATA / "osv" / "pypa", osv / "pypa")
    root = tmp_path / "root"
    import_source(root, f"osv:{osv}", lambda _: None)
    for version in ("4.17.11", "4.17.12"):
        lodash_layout(tmp_path, root, version)
    rescan = ["--root", str(root), "rescan", "--offline"]

    first = json.loads(ok(run_cli([*rescan, "--format", "json"])).stdout)
    images = _by_name(first)
    assert set(images) == {OLD, NEW} and first["newFindings"] == 0
    assert all(i["scanned"] and i["previousDatabase"] is None for i in images.values())

    # the same database: nothing is scanned again
    again = _by_name(json.loads(ok(run_cli([*rescan, "--format", "json"])).stdout))
    assert not any(i["scanned"] for i in again.values())

    # the update brings the lodash advisory: only 4.17.11 has a new finding, and the gate
    # (CRITICAL) applies to it
    shutil.copytree(VULN_DATA / "osv" / "github", osv / "github")
    import_source(root, f"osv:{osv}", lambda _: None)
    r = run_cli([*rescan, "--severity", "CRITICAL", "--format", "sarif"])
    assert r.returncode == 1, r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert len(runs) == 1 and runs[0]["properties"]["target"].endswith(OLD)
    assert {res["ruleId"] for res in runs[0]["results"]} == {CVE}

    # rescanned with this database already: nothing new, exit 0; --force scans again
    r = ok(run_cli([*rescan, "--severity", "CRITICAL"]))
    assert "0 new finding(s) in 0 image(s) rescanned of 2" in r.stdout
    forced = json.loads(ok(run_cli([*rescan, "--force", "--format", "json", OLD])).stdout)
    (image,) = forced["images"]
    assert image["scanned"] and image["new"] == [] and image["previousDatabase"]


def test_rescan_of_an_image_not_in_the_store_names_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    import_source(root, f"osv:{VULN_DATA / 'osv' / 'pypa'}", lambda _: None)
    r = run_cli(["--root", str(root), "rescan", "--offline", "nosuch:1"])
    assert r.returncode != 0 and "nosuch" in r.stderr
