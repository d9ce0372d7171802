"""``rescan REGISTRY/PROJECT``: a real imageforge registry scans its project again with
its own database (its scan jobs); after that database's update only the new advisory is
reported, on only the image it touches, and the gate's exit code follows it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.remote import Credentials, save_credentials
from imageforge.vuln import import_source
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, make_server
from tests.registry.scan_fixtures import CVE, lodash_layout
from tests.remote.conftest import authfile as authfile
from tests.remote.conftest import ok
from tests.vuln.conftest import DATA as VULN_DATA

NO_TLS = "--tls-verify=false"
CONFIG = '[registry]\nscan_poll = "0.1s"\nscan_lease = "2s"\nscan_retry = "1s"\n'


@pytest.fixture
def osv(tmp_path: Path) -> Path:
    """An OSV directory of every test record but the lodash advisory (added later)."""
    path = tmp_path / "osv"
    shutil.copytree(VULN_DATA / "osv" / "pypa", path / "pypa")
    return path


@pytest.fixture
def scanning(
    tmp_path: Path, osv: Path, authfile: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    srv = make_server(tmp_path / "registry", CONFIG)
    srv.root = tmp_path / "registry-root"
    import_source(srv.root, f"osv:{osv}", lambda _: None)
    srv.start()
    save_credentials(srv.host, Credentials("admin", ADMIN_PASSWORD), authfile)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.slow
def test_rescan_a_registry_project_after_its_database_update(
    tmp_path: Path, osv: Path, scanning: Server
) -> None:
    root = tmp_path / "client"
    cli = ["--root", str(root)]
    for version, tag in (("4.17.11", "old"), ("4.17.12", "new")):
        layout = lodash_layout(tmp_path, root, version)
        dest = f"docker://{scanning.host}/library/app:{tag}"
        ok(run_cli([*cli, "copy", f"oci:{layout}:1", dest, NO_TLS]))
    rescan = [*cli, "rescan", f"{scanning.host}/library", "--format", "json", NO_TLS]

    first = json.loads(ok(run_cli(rescan)).stdout)
    tags = {i["names"][0].rsplit(":", 1)[1]: i for i in first["images"]}
    assert set(tags) == {"old", "new"} and first["newFindings"] == 0
    assert all(i["previousDatabase"] is None for i in tags.values())

    # the registry's database gets the lodash advisory: its scans report it on app:old
    shutil.copytree(VULN_DATA / "osv" / "github", osv / "github")
    assert scanning.root is not None
    import_source(scanning.root, f"osv:{osv}", lambda _: None)
    r = run_cli([*rescan, "--severity", "CRITICAL"])
    assert r.returncode == 1, r.stderr
    done = json.loads(r.stdout)
    assert done["database"] != first["database"]
    by_tag = {i["names"][0].rsplit(":", 1)[1]: i for i in done["images"]}
    assert [f["id"] for f in by_tag["old"]["new"]] == [CVE]
    assert by_tag["old"]["exitCode"] == 1 and by_tag["new"]["new"] == []

    # nothing new since: exit 0
    assert json.loads(ok(run_cli(rescan)).stdout)["newFindings"] == 0


def test_rescan_refuses_an_image_reference_as_a_project(tmp_path: Path) -> None:
    r = run_cli(["--root", str(tmp_path), "rescan", "docker://127.0.0.1:1/library/app:1"])
    assert r.returncode == 2 and "registry project" in r.stderr
