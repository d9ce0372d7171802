"""Debian's security tracker: the text data (CVE, DSA and DLA lists) and the JSON
export, each release's own status, and malformed lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imageforge.vuln import Advisory, Affected, VulnDB, import_source
from imageforge.vuln._debian import read_tracker
from imageforge.vuln._debian_json import read_tracker_json
from tests.vuln.conftest import DATA, tracker_sample


def _entries(advisories: list[Advisory], cve: str, package: str) -> dict[str, Affected]:
    [adv] = [a for a in advisories if a.id == cve]
    return {a.release: a for a in adv.affected if a.name == package}


def _fixed(entry: Affected) -> str | None:
    return next((e.version for r in entry.ranges for e in r.events if e.kind == "fixed"), None)


def test_the_tracker_sample_is_read_whole() -> None:
    warnings: list[str] = []
    advisories = list(read_tracker(tracker_sample(), source="t", warn=warnings.append))
    assert warnings == []
    assert len(advisories) == 26  # the sample's README: 26 CVE entries


def test_a_dsa_fix_for_bookworm_applies_when_the_cve_line_names_only_sid() -> None:
    advisories = list(read_tracker(tracker_sample(), source="t", warn=pytest.fail))
    curl = _entries(advisories, "CVE-2023-38545", "curl")
    assert _fixed(curl[""]) == "8.3.0-3"  # the sid line
    assert _fixed(curl["12"]) == "7.88.1-10+deb12u4"  # DSA-5523-1's bookworm line
    assert curl["12"].note == "fixed in DSA-5523-1"
    assert _fixed(curl["11"]) == "7.74.0-1.3+deb11u10"
    assert curl["10"].status == "not_affected"  # [buster] <not-affected>
    [adv] = [a for a in advisories if a.id == "CVE-2023-38545"]
    assert adv.related == ("DSA-5523-1",) and adv.aliases == ()


def test_release_statuses_and_urgencies() -> None:
    advisories = list(read_tracker(tracker_sample(), source="t", warn=pytest.fail))
    assert _entries(advisories, "CVE-2024-22365", "pam")["12"].status == "affected"  # <no-dsa>
    assert _entries(advisories, "CVE-2024-22365", "pam")["12"].note == "no-dsa: Minor issue"
    assert _entries(advisories, "CVE-2016-2781", "coreutils")["12"].status == "will_not_fix"
    assert _entries(advisories, "CVE-2023-7008", "systemd")["10"].status == "fix_deferred"
    assert _entries(advisories, "CVE-2024-0684", "coreutils")["12"].status == "not_affected"
    unimportant = _entries(advisories, "CVE-2011-3374", "apt")[""]
    assert unimportant.status == "affected" and unimportant.severity == "unimportant"
    assert (unimportant.note or "").startswith("urgency unimportant")
    assert _entries(advisories, "CVE-2016-2781", "coreutils")[""].severity == "low"
    assert _fixed(_entries(advisories, "CVE-2024-0553", "gnutls28")["12"]) == "3.7.9-2+deb12u2"


def test_a_malformed_tracker_line_is_a_warning_naming_file_and_line(tmp_path: Path) -> None:
    tracker = tmp_path / "tracker"
    shutil.copytree(tracker_sample(), tracker)
    cve_list = tracker / "data" / "CVE" / "list"
    lines = cve_list.read_text().splitlines()
    at = lines.index("\t- curl 8.3.0-3") if "\t- curl 8.3.0-3" in lines else 0
    lines.insert(at + 1, "\t[bookworm] - curl")  # no version and no status
    lines.insert(0, "not a header at all")
    cve_list.write_text("\n".join(lines) + "\n")
    warnings: list[str] = []
    report = import_source(tmp_path / "root", f"debian-tracker:{tracker}", warnings.append)
    assert len(warnings) == 2
    assert any(f"{cve_list}:1: not an entry header" in w for w in warnings)
    assert any(f"{cve_list}:{at + 3}: CVE-2023-38546: cannot read" in w for w in warnings)
    assert report.source.advisories == 26


def test_the_json_export_gives_each_release_its_status() -> None:
    warnings: list[str] = []
    path = DATA / "debian" / "tracker-export.json"
    advisories = list(read_tracker_json(path, source="t", warn=warnings.append))
    assert warnings == [f"{path}: package 'broken-entry': not an object of CVEs; skipped"]
    curl = _entries(advisories, "CVE-2023-38545", "curl")
    assert _fixed(curl["12"]) == "7.88.1-10+deb12u4" and curl["12"].status == "fixed"
    assert curl["10"].status == "not_affected"  # resolved, fixed_version "0"
    assert _fixed(curl["sid"]) == "8.3.0-3"
    systemd = _entries(advisories, "CVE-2023-7008", "systemd")
    assert systemd["12"].status == "affected" and systemd["12"].note == "no-dsa: Minor issue"
    assert systemd["10"].status == "fix_deferred"
    assert _entries(advisories, "CVE-2016-2781", "coreutils")["12"].status == "will_not_fix"
    apt = _entries(advisories, "CVE-2011-3374", "apt")["12"]
    assert apt.severity == "unimportant" and (apt.note or "").startswith("urgency unimportant")


def test_a_tracker_export_that_is_not_json_imports_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "json"
    bad.write_text('{"curl": {"CVE-2023-38545": ')
    warnings: list[str] = []
    with pytest.raises(Exception, match="nothing could be imported"):
        import_source(tmp_path / "root", f"debian-tracker-json:{bad}", warnings.append)
    assert warnings and "not valid JSON" in warnings[0]
    assert not (tmp_path / "root" / "vulndb" / "vuln.db").exists()


def test_a_directory_that_is_not_a_tracker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a Debian security tracker checkout"):
        import_source(tmp_path / "root", f"debian-tracker:{tmp_path}", pytest.fail)


def test_alpine_secdb_is_imported(real_db: VulnDB) -> None:
    rows = {r.id: r for r in real_db.lookup("Alpine", "openssl")}
    assert set(rows) == {"CVE-2023-5363", "CVE-2023-3817", "CVE-2022-1292"}
    assert rows["CVE-2022-1292"].affected.status == "not_affected"  # secfixes "0"
    assert rows["CVE-2023-5363"].affected.release == "v3.18"
