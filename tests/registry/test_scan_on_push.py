"""Scan on push and the vulnerability pull policy with real clients, against
``imageforge registry serve`` scanning with the vulnerability database under its --root:
a pushed image with a CRITICAL finding is scanned automatically, skopeo and podman
pulls of it are refused with the policy's message, and work once the CVE is
allowlisted; the queue survives ``kill -9`` of the server mid-scan; two servers on one
PostgreSQL database scan each image once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imageforge.oci import Digest
from tests.conftest import containers_env, need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, Server, make_server, skopeo
from tests.registry.scan_fixtures import CVE, lodash_layout, variant, vuln_root
from tests.registry.test_clients import _storage_args

CREDS = f"admin:{ADMIN_PASSWORD}"
# Quick polls, short leases and retries: what a test can wait for.
CONFIG = '[registry]\nscan_poll = "0.1s"\nscan_lease = "2s"\nscan_retry = "1s"\n'


@pytest.fixture(scope="module")
def scan_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vuln_root(tmp_path_factory.mktemp("scan-root"))


@pytest.fixture(scope="module")
def vulnerable(scan_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lodash_layout(tmp_path_factory.mktemp("lodash"), scan_root, "4.17.11")


def _serve(tmp: Path, root: Path, db: str | None = None, data_dir: Path | None = None) -> Server:
    srv = make_server(tmp, CONFIG)
    srv.root, srv.db = root, db
    if data_dir is not None:
        srv.data_dir = data_dir
    if db is not None:
        srv.env = {"IMAGEFORGE_REGISTRY_DB": db}
    srv.start()
    return srv


@pytest.fixture
def scanning(tmp_path: Path, scan_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    srv = _serve(tmp_path / "registry", scan_root)
    try:
        yield srv
    finally:
        srv.stop()


def _project(srv: Server, **policy: Any) -> None:
    with srv.client() as c:
        assert c.post("/api/v1/projects", json={"name": "team"}).status_code == 201
        r = c.put("/api/v1/projects/team/policy", json=policy)
        assert r.status_code == 200, r.text


def _push(srv: Server, layout: Path, ref: str) -> Digest:
    dest = f"docker://{srv.host}/{ref}"
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        CREDS,
        "--digestfile",
        str(layout.parent / "digest"),
        f"oci:{layout}:1",
        dest,
    )
    return Digest((layout.parent / "digest").read_text().strip())


def _scan(srv: Server, repo: str, digest: Digest, until: str = "Success") -> dict[str, Any]:
    """The scan overview once its status is ``until`` (a minute at most)."""
    project, name = repo.split("/", 1)
    url = f"/api/v1/projects/{project}/repositories/{name}/artifacts/{digest}/scan"
    deadline = time.monotonic() + 60
    with srv.client() as c:
        while True:
            doc: dict[str, Any] = c.get(url).json()
            if doc["scan_status"] == until or time.monotonic() > deadline:
                assert doc["scan_status"] == until, doc
                return doc
            time.sleep(0.1)


def _cli(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["registry", *args, "--data-dir", str(srv.data_dir)])


@pytest.mark.slow
def test_a_vulnerable_push_is_scanned_and_its_pulls_refused_until_allowlisted(
    scanning: Server, vulnerable: Path, tmp_path: Path, runroot: Path
) -> None:
    _project(scanning, scan_on_push=True, prevent_vulnerable=True, severity="critical")
    digest = _push(scanning, vulnerable, "team/app:1")
    doc = _scan(scanning, "team/app", digest)
    assert doc["severity"] == "Critical" and doc["summary"]["summary"] == {"Critical": 1}
    assert [(v["id"], v["package"], v["fix_version"]) for v in doc["vulnerabilities"]] == [
        (CVE, "lodash", "4.17.12")
    ]
    shown = _cli(scanning, "scan", "show", "team/app:1", "--format", "json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["scan_status"] == "Success"

    src = f"docker://{scanning.host}/team/app:1"
    r = skopeo("copy", "--src-tls-verify=false", "--src-creds", CREDS, src,
               f"oci:{tmp_path / 'out'}:1", check=False)  # fmt: skip
    assert r.returncode != 0
    assert "prevent_vulnerable (severity critical) of project team" in r.stderr
    assert f"{CVE} (critical, lodash 4.17.11)" in r.stderr
    podman = need_binary("podman")
    env = containers_env(tmp_path)
    base = [podman, *_storage_args(tmp_path, runroot)]
    pull = [*base, "pull", "--tls-verify=false", "--creds", CREDS, f"{scanning.host}/team/app:1"]
    r = subprocess.run(pull, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode != 0 and CVE in r.stderr, r.stderr
    refused = scanning.meta().audit(repo="team/app", result="refused")
    assert refused and CVE in refused[0].detail

    added = _cli(scanning, "allowlist", "add", CVE, "--project", "team", "--expires-in", "1d")
    assert added.returncode == 0, added.stderr
    skopeo("copy", "--src-tls-verify=false", "--src-creds", CREDS, src, f"oci:{tmp_path / 'ok'}:1")
    r = subprocess.run(pull, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert scanning.meta().audit(repo="team/app", action="pull", result="ok")


@pytest.mark.slow
def test_the_queue_survives_kill_9_of_the_server_mid_scan(
    scanning: Server, scan_root: Path, tmp_path: Path
) -> None:
    # thousands of packages: a scan that takes seconds, long enough to be killed in
    big = lodash_layout(tmp_path, scan_root, "4.17.11", packages=3000)
    _project(scanning, scan_on_push=True)
    digest = _push(scanning, big, "team/big:1")
    meta = scanning.meta()
    deadline = time.monotonic() + 60
    while not any(j.state == "running" for j in meta.scans.jobs(digest)):
        assert time.monotonic() < deadline, meta.scans.jobs(digest)
        time.sleep(0.01)
    assert scanning.proc is not None
    killed = scanning.proc.pid
    scanning.stop(signal.SIGKILL)
    job = scanning.meta().scans.jobs(digest)[0]
    assert (job.state, job.attempts) == ("running", 1) and f":{killed}:" in str(job.owner)
    assert scanning.meta().scans.result(digest) is None
    scanning.start()
    doc = _scan(scanning, "team/big", digest)  # claimed again once the lease ran out
    assert [v["id"] for v in doc["vulnerabilities"]] == [CVE]
    job = scanning.meta().scans.jobs(digest)[0]
    assert (job.state, job.attempts) == ("done", 2) and f":{killed}:" not in str(job.owner)


@pytest.mark.slow
def test_two_servers_on_one_postgresql_database_scan_each_image_once(
    postgres: PgCluster,
    scan_root: Path,
    vulnerable: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres.new_database()
    monkeypatch.setenv("IMAGEFORGE_REGISTRY_DB", url)
    one = _serve(tmp_path / "one", scan_root, url)
    two = _serve(tmp_path / "two", scan_root, url, data_dir=one.data_dir)
    try:
        _project(one, scan_on_push=True)
        # four images pushed through both servers, whose workers all race for the jobs
        digests = [
            _push(one if n % 2 else two, variant(vulnerable, tmp_path / f"v{n}", n), f"team/a:{n}")
            for n in range(4)
        ]
        assert len(set(digests)) == 4
        for digest in digests:
            _scan(two, "team/a", digest)
        time.sleep(0.5)  # a second claim, if there were one, would have started by now
        jobs = one.meta().scans.jobs()
        assert sorted(j.digest for j in jobs) == sorted(digests)
        assert {(j.state, j.attempts) for j in jobs} == {("done", 1)}
    finally:
        one.stop()
        two.stop()
