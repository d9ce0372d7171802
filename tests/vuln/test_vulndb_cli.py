"""``imageforge vulndb import|status`` as a user runs them: text and JSON, warnings on
stderr, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.vuln.conftest import DATA, tracker_sample


def test_import_then_status(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    proc = run_cli(["--root", root, "vulndb", "import", f"osv:{DATA / 'osv'}"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("imported 12 advisories")
    proc = run_cli(
        [
            "--root",
            root,
            "vulndb",
            "import",
            f"debian-tracker:{tracker_sample()}",
            "--format",
            "json",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"]["advisories"] == 26 and doc["warnings"] == []
    status = json.loads(run_cli(["--root", root, "vulndb", "status", "--format", "json"]).stdout)
    assert status["exists"] and status["advisories"] == 38 and not status["stale"]
    assert {s["kind"] for s in status["sources"]} == {"osv", "debian-tracker"}


def test_status_without_a_database_says_what_to_run(tmp_path: Path) -> None:
    proc = run_cli(["--root", str(tmp_path), "vulndb", "status", "--format", "text"])
    assert proc.returncode == 0
    assert "no vulnerability database" in proc.stdout and "vulndb update" in proc.stdout


def test_bad_records_are_warnings_and_a_bad_source_an_error(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "good.json").write_bytes(
        (DATA / "osv" / "github" / "GHSA-jf85-cpcp-j695.json").read_bytes()
    )
    (records / "bad.json").write_text('{"id": "GHSA-1", "modified": "yesterday"}')
    root = str(tmp_path / "root")
    proc = run_cli(["--root", root, "vulndb", "import", f"osv:{records}"])
    assert proc.returncode == 0
    assert "imported 1 advisories" in proc.stdout and "1 skipped with a warning" in proc.stdout
    assert (
        f"warning: {records / 'bad.json'} (GHSA-1): does not follow the OSV schema" in proc.stderr
    )
    empty = tmp_path / "broken.zip"
    empty.write_bytes(b"PK\x03\x04 truncated")
    proc = run_cli(["--root", root, "vulndb", "import", f"osv:{empty}"])
    assert proc.returncode == 2
    assert "error: nothing could be imported" in proc.stderr
    assert "hint: the vulnerability database was left as it was" in proc.stderr
    proc = run_cli(["--root", root, "vulndb", "import", "osv:/nonexistent/dir"])
    assert proc.returncode == 3 and "does not exist" in proc.stderr
