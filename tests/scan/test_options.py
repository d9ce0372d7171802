"""What a scan takes besides its target: ignore files and the policy's [scan.ignore]
with expiry dates, the policy's gate, and the database (updated unless offline, refused
clearly when missing, used with a warning when older than a day)."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imageforge.errors import NotFound
from imageforge.policy import load_policy
from imageforge.scan import ScanOptions, ScanReport, open_database, scan_image, scan_sbom_file
from imageforge.vuln import UpdateConfig, VulnDB, db_path, load_ignore_file, rules_from_policy

from .conftest import IMAGE, opened

TODAY = dt.date(2026, 12, 6)


def _scan(root: Path, options: ScanOptions) -> ScanReport:
    with VulnDB.open(root) as db, opened(root) as image:
        return scan_image(image, db, options, name=IMAGE)


def test_ignore_files_and_policy_suppress_with_reasons_and_expiry(
    scan_db_root: Path, fixture_image: Path, tmp_path: Path
) -> None:
    (tmp_path / ".trivyignore").write_text(
        "# accepted until the next base image\nCVE-2016-2781\n"
        "CVE-2011-3374 exp:2026-01-01  # expired: warns, suppresses nothing\n"
    )
    (tmp_path / ".grype.yaml").write_text(
        "ignore:\n  - vulnerability: GHSA-jf85-cpcp-j695\n    reason: lodash is a dev tool\n"
    )
    (tmp_path / "imageforge.toml").write_text(
        '[scan.ignore]\n"CVE-2023-32681" = { reason = "no proxies", expires = 2027-01-31 }\n'
    )
    policy = load_policy(tmp_path / "imageforge.toml")
    rules = [
        *load_ignore_file(tmp_path / ".trivyignore"),
        *load_ignore_file(tmp_path / ".grype.yaml"),
        *rules_from_policy(policy.scan, str(tmp_path / "imageforge.toml")),
    ]
    report = _scan(scan_db_root, ScanOptions(rules=tuple(rules), today=TODAY))
    hidden = {f.id: f.suppressed for f in report.vulnerabilities.suppressed}
    assert set(hidden) == {"CVE-2016-2781", "CVE-2019-10744", "CVE-2023-32681"}
    assert hidden["CVE-2023-32681"] is not None and hidden["CVE-2023-32681"].reason == "no proxies"
    kept = {f.id for f in report.vulnerabilities.findings}
    assert "CVE-2011-3374" in kept  # its suppression expired
    assert any("expired on 2026-01-01" in w for w in report.warnings)


def test_the_policy_holds_the_gate(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(
        '[scan]\nseverity = "critical,HIGH"\nmin-cvss = 7\nignore-unfixed = true\nexit-code = 4\n'
    )
    scan = load_policy(tmp_path / "imageforge.toml").scan
    assert (scan.severity, scan.min_cvss, scan.ignore_unfixed, scan.exit_code) == (
        ("CRITICAL", "HIGH"),
        7.0,
        True,
        4,
    )
    (tmp_path / "imageforge.toml").write_text('[scan]\nseverity = ["SEVERE"]\n')
    with pytest.raises(Exception, match="unknown severity SEVERE"):
        load_policy(tmp_path / "imageforge.toml")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_database_offline_stale_and_failed_update(scan_db_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    warnings: list[str] = []
    nowhere = UpdateConfig(
        osv_url=f"http://127.0.0.1:{_closed_port()}/osv", ecosystems=("PyPI",), debian_url=None
    )
    # no database: offline says how to get one; an update that fails says why
    with pytest.raises(NotFound, match="no vulnerability database") as info:
        open_database(root, offline=True, warn=warnings.append)
    assert info.value.hint and "vulndb" in info.value.hint
    with pytest.raises(NotFound, match="the update failed"):
        open_database(root, offline=False, warn=warnings.append, config=nowhere)
    # a database two days old: offline uses it with a warning, and updates nothing
    db_path(root).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(db_path(scan_db_root), db_path(root))
    later = datetime.now(UTC) + timedelta(days=2)
    warnings.clear()
    db, status = open_database(root, offline=True, warn=warnings.append, now=later)
    db.close()
    assert status.stale
    [stale] = warnings
    assert "days old (updated " in stale and "run `imageforge vulndb update`" in stale
    warnings.clear()
    # online, the update fails: the old database is used, saying so
    db, status = open_database(root, offline=False, warn=warnings.append, config=nowhere, now=later)
    db.close()
    assert any("could not be updated" in w for w in warnings)
    assert any("days old" in w for w in warnings)
    # fresh: no warning at all
    warnings.clear()
    db, status = open_database(root, offline=True, warn=warnings.append)
    db.close()
    assert warnings == [] and not status.stale


def test_an_sbom_scan_needs_no_image(scan_db: VulnDB, tmp_path: Path) -> None:
    sbom = tmp_path / "bom.json"
    sbom.write_text(
        '{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": ['
        '{"SPDXID": "SPDXRef-a", "name": "libcurl4", "versionInfo": "7.88.1-10+deb12u3",'
        ' "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",'
        ' "referenceLocator": "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u3'
        '?arch=amd64&upstream=curl&distro=debian-12"}]}]}'
    )
    report = scan_sbom_file(sbom, scan_db)
    assert report.distro is not None and report.distro.version_id == "12"
    assert {f.id for f in report.vulnerabilities.findings} == {"CVE-2023-38545", "CVE-2023-38546"}
    assert report.vulnerabilities.findings[0].query.via == "source package curl 7.88.1-10+deb12u3"
