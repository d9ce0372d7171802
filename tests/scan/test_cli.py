"""``imageforge scan`` as a user runs it: every kind of target (a store image, an OCI
layout, a docker archive, a registry, a directory, an SBOM), the gate's exit codes, the
output formats and files, ignore files and VEX from the command line and the policy,
and bad input refused with a message and an exit code."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from imageforge.vuln import db_path
from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.remote.conftest import authfile, login_ours, ours

from .conftest import EXPECTED, IMAGE, ok

__all__ = ["authfile", "ours"]  # fixtures

NO_TLS = "--tls-verify=false"


def scan(root: Path, *args: str, cwd: Path | None = None) -> Any:
    proc = run_cli(
        ["--root", str(root), "scan", *args, "--offline", "--progress", "quiet"], cwd=cwd
    )
    return proc


def ids(out: str) -> set[tuple[str, str, str]]:
    doc = json.loads(out)
    return {
        (v["id"], v["package"]["name"], v["package"]["version"]) for v in doc["vulnerabilities"]
    }


def test_every_target_kind_gives_the_same_findings(
    scan_db_root: Path, fixture_image: Path, fixture_rootfs: Path, tmp_path: Path
) -> None:
    root = scan_db_root
    layout = fixture_image / "layout"
    archive = tmp_path / "app.tar"
    ok(run_cli(["--root", str(root), "export", IMAGE, f"docker-archive:{archive}"]))
    sbom = tmp_path / "app.cdx.json"
    ok(run_cli(["--root", str(root), "sbom", IMAGE, "-o", "cyclonedx-json", "--file", str(sbom)]))
    for target in (
        IMAGE,
        f"oci:{layout}:app",
        f"docker-archive:{archive}",
        str(fixture_rootfs),
        f"sbom:{sbom}",
    ):
        proc = ok(scan(root, target, "--format", "json"))
        assert ids(proc.stdout) == EXPECTED, target


@pytest.mark.slow
def test_a_registry_image_is_scanned_without_pulling_it(
    ours: Server, authfile: Path, scan_db_root: Path, fixture_image: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    remote = f"docker://{ours.host}/library/scanme:1"
    ok(run_cli(["copy", f"oci:{fixture_image / 'layout'}:app", remote, NO_TLS]))
    root = tmp_path / "root"  # a store with the database only: nothing is pulled into it
    db_path(root).parent.mkdir(parents=True)
    shutil.copy2(db_path(scan_db_root), db_path(root))
    proc = ok(scan(root, remote, NO_TLS, "--format", "json"))
    assert ids(proc.stdout) == EXPECTED
    doc = json.loads(proc.stdout)
    assert doc["target"]["name"] == remote
    assert not (root / "blobs").exists() or not any((root / "blobs").rglob("*"))


@pytest.mark.usefixtures("fixture_image")  # scan-fixture:1 in scan_db_root's store
def test_prune_deletes_what_scan_kept_of_images_no_name_reaches(
    scan_db_root: Path, tmp_path: Path
) -> None:
    """``prune`` keeps the scan-cache entry of a named image and deletes an older
    imageforge's entry, a killed scan's abandoned write and, once the image is removed,
    its entry; ``--dry-run`` only counts them."""
    root = tmp_path / "root"
    shutil.copytree(scan_db_root, root, symlinks=True)
    cache = root / "scan-cache"
    shutil.rmtree(cache, ignore_errors=True)
    ok(scan(root, IMAGE, "--format", "json"))
    [entry] = cache.glob("*.json")
    older = cache / ("0" * 64 + ".json")  # the same image, keyed by another version
    shutil.copy2(entry, older)
    abandoned = cache / f".{entry.name}.killed.tmp"
    abandoned.write_bytes(b'{"format": "imageforge-scan')
    os.utime(abandoned, (time.time() - 2 * 86400,) * 2)
    writing = cache / f".{entry.name}.now.tmp"
    writing.write_bytes(b"{")

    def prune(*flags: str) -> Any:
        proc = ok(run_cli(["--root", str(root), "prune", "--format", "json", *flags]))
        return json.loads(proc.stdout)

    dry = prune("--dry-run")
    assert dry["scanCacheRemoved"] == 2
    assert dry["scanCacheFreed"] == older.stat().st_size + abandoned.stat().st_size
    assert older.exists() and abandoned.exists()
    assert prune()["scanCacheRemoved"] == 2
    assert sorted(p.name for p in cache.iterdir()) == sorted([entry.name, writing.name])
    ok(run_cli(["--root", str(root), "rmi", IMAGE]))
    assert prune()["scanCacheRemoved"] == 1
    assert not entry.exists() and writing.exists()


def test_the_gate_and_exit_codes(scan_db_root: Path, fixture_image: Path) -> None:
    root = scan_db_root
    plain = ok(scan(root, IMAGE))
    assert "Vulnerabilities: 17 " in plain.stdout and "CVE-2021-44228" in plain.stdout
    gated = scan(root, IMAGE, "--severity", "CRITICAL,HIGH")
    assert gated.returncode == 1
    assert "FAILED: 4 findings reach the threshold (exit 1)" in gated.stdout
    assert "CVE-2016-2781" not in gated.stdout  # LOW: left out
    assert scan(root, IMAGE, "--min-cvss", "7.0", "--exit-code", "3").returncode == 3
    assert scan(root, IMAGE, "--min-cvss", "9.5", "--exit-code", "3").returncode == 3
    fixed_only = scan(root, IMAGE, "--ignore-unfixed", "--format", "json")
    assert all(v["fixedVersion"] for v in json.loads(fixed_only.stdout)["vulnerabilities"])
    assert scan(root, IMAGE, "--exit-code", "9").returncode == 9  # trivy: any finding
    bad = scan(root, IMAGE, "--severity", "SEVERE")
    assert bad.returncode == 2 and "unknown severity SEVERE" in bad.stderr
    out_of_range = scan(root, IMAGE, "--min-cvss", "11")
    assert out_of_range.returncode == 2


def test_formats_go_to_a_file(scan_db_root: Path, fixture_image: Path, tmp_path: Path) -> None:
    expected: dict[str, tuple[str, object]] = {
        "json": ("schema", "imageforge-scan/1"),
        "sarif": ("version", "2.1.0"),
        "cyclonedx": ("specVersion", "1.6"),
        "openvex": ("@context", "https://openvex.dev/ns/v0.2.0"),
    }
    for fmt, (key, value) in expected.items():
        out = tmp_path / f"report.{fmt}"
        proc = ok(scan(scan_db_root, IMAGE, "--format", fmt, "--output", str(out)))
        assert proc.stdout == ""
        assert json.loads(out.read_text())[key] == value, fmt
    table = tmp_path / "report.txt"
    ok(scan(scan_db_root, IMAGE, "-o", str(table)))
    assert "upgrade requests 2.19.1 -> 2.31.0" in table.read_text()


def test_ignore_files_vex_and_the_policy_from_the_working_directory(
    scan_db_root: Path, fixture_image: Path, tmp_path: Path
) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / ".trivyignore").write_text("CVE-2019-10744 # lodash is a dev tool\n")
    (work / "imageforge.toml").write_text(
        '[scan]\nseverity = ["CRITICAL"]\nexit-code = 4\n'
        '[scan.ignore]\n"CVE-2018-18074" = { reason = "no redirects", expires = 2020-01-01 }\n'
    )
    proc = scan(scan_db_root, IMAGE, "--format", "json", cwd=work)
    assert proc.returncode == 4  # the policy's gate: log4j is CRITICAL
    doc = json.loads(proc.stdout)
    assert [v["id"] for v in doc["vulnerabilities"]] == ["CVE-2021-44228"]
    assert [v["id"] for v in doc["suppressed"]] == ["CVE-2019-10744"]
    assert doc["suppressed"][0]["suppressedBy"]["origin"].endswith(".trivyignore:1")
    assert "expired on 2020-01-01" in proc.stderr
    vex = tmp_path / "vex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2021-44228"},
                        "products": [{"@id": "pkg:maven/org.apache.logging.log4j/log4j-core"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_present",
                    }
                ],
            }
        )
    )
    passed = scan(scan_db_root, IMAGE, "--vex", str(vex), "--format", "json", cwd=work)
    assert passed.returncode == 0
    assert json.loads(passed.stdout)["gate"]["passed"] is True
    # the command line wins over the policy
    assert scan(scan_db_root, IMAGE, "--severity", "HIGH", cwd=work).returncode == 4


def test_bad_input_is_refused_clearly(scan_db_root: Path, tmp_path: Path) -> None:
    not_sbom = tmp_path / "not.json"
    not_sbom.write_text('{"hello": "world"}')
    proc = scan(scan_db_root, f"sbom:{not_sbom}")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {not_sbom} is neither a CycloneDX nor an SPDX")
    missing = scan(scan_db_root, "./no-such-dir")
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    no_image = scan(scan_db_root, "no-such-image:1")
    assert no_image.returncode == 3
    empty = run_cli(["--root", str(tmp_path / "empty"), "scan", IMAGE, "--offline"])
    assert empty.returncode == 3 and "no vulnerability database" in empty.stderr
    assert "vulndb" in empty.stderr  # the hint says how to get one


def test_a_stale_database_warns(scan_db_root: Path, fixture_image: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(scan_db_root, root, symlinks=True)
    with sqlite3.connect(db_path(root)) as conn:
        conn.execute("UPDATE meta SET value = '2026-01-01T00:00:00Z' WHERE key = 'updated_at'")
    proc = ok(scan(root, IMAGE))
    assert "warning: the vulnerability database is " in proc.stderr
    assert "days old (updated 2026-01-01T00:00:00Z)" in proc.stderr


def test_a_warm_scan_reads_no_layer(
    scan_db_root: Path, fixture_image: Path, tmp_path: Path
) -> None:
    """What a scan read from an image is kept by its digest: with the layer blobs gone
    from the store, the next scan still gives every finding and layer; --no-cache reads
    the image again (and now cannot)."""
    root = tmp_path / "root"
    shutil.copytree(scan_db_root, root, symlinks=True)
    shutil.rmtree(root / "scan-cache", ignore_errors=True)
    first = json.loads(ok(scan(root, IMAGE, "--format", "json")).stdout)
    assert len(list((root / "scan-cache").glob("*.json"))) == 1
    for layer in {v["layer"]["digest"] for v in first["vulnerabilities"]}:
        algorithm, hexdigest = layer.split(":")
        (root / "blobs" / algorithm / hexdigest).unlink()
    warm = json.loads(ok(scan(root, IMAGE, "--format", "json")).stdout)
    assert warm["vulnerabilities"] == first["vulnerabilities"]
    assert warm["warnings"] == []
    cold = scan(root, IMAGE, "--format", "json", "--no-cache")
    assert "layer skipped" in cold.stderr
