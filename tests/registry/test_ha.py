"""Three ``registry serve`` replicas behind HAProxy (round-robin per request) on one
PostgreSQL database and one SeaweedFS S3 prefix, as a team runs them beyond one
machine: real clients push and pull through the balancer, garbage collection on one
replica loses nothing the others take meanwhile, and scheduled work (upload expiry
too) runs once."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imageforge.oci import digest_bytes, media
from imageforge.registry.meta import MetaStore
from imageforge.registry.retention import GC_SCHEDULE, RetentionStore
from imageforge.registry.service import ingest_ref
from imageforge.registry.storage import S3BlobStorage
from tests.conftest import containers_env, need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, _free_port, skopeo
from tests.registry.ha_cluster import S3_ENV, Cluster, haproxy_binary
from tests.registry.scan_fixtures import vuln_root
from tests.registry.seaweedfs import SeaweedFS
from tests.registry.test_clients import _storage_args

pytestmark = pytest.mark.slow

CREDS = f"admin:{ADMIN_PASSWORD}"
GRACE = 5.0  # the collections' grace period here: pushes finish well within it
YEARLY = "0 0 1 1 *"  # a schedule that comes due only when the test says so
# unfinished uploads expire quickly here (each replica looks every 5 s); the sessions of
# the clients' pushes last well under it
UPLOAD_EXPIRY = 20.0


@pytest.fixture(scope="module")
def cluster(
    seaweedfs: SeaweedFS, postgres: PgCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    haproxy = haproxy_binary()
    if haproxy is None:
        pytest.fail("haproxy is not installed; 'make setup' installs it")
    root = vuln_root(tmp_path_factory.mktemp("ha-root"))
    c = Cluster.make(
        tmp_path_factory.mktemp("ha"),
        postgres.new_database(),
        seaweedfs.storage_url(),
        3,
        haproxy,
        config=f'scan_poll = "0.2s"\ndb_pool_size = 4\nupload_expiry = "{UPLOAD_EXPIRY:g}s"\n',
        store_root=root,
    )
    c.start()
    try:
        yield c
    finally:
        c.stop()


def _client(cluster: Cluster) -> httpx.Client:
    return httpx.Client(base_url=cluster.lb.url, auth=("admin", ADMIN_PASSWORD), timeout=120)


def test_skopeo_and_podman_push_and_pull_through_the_balancer(
    cluster: Cluster, hello_oci: Path, tmp_path: Path, runroot: Path
) -> None:
    need_binary("skopeo")
    podman = need_binary("podman")
    with _client(cluster) as c:
        served = {c.get("/v2/").headers["x-served-by"] for _ in range(9)}
    assert served == {"r0", "r1", "r2"}  # round-robin: every replica answers

    dest = f"docker://{cluster.lb.host}/library/hello:1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1", dest)
    skopeo("copy", "--src-tls-verify=false", dest, f"oci:{tmp_path / 'back'}:1")
    back = json.loads((tmp_path / "back" / "index.json").read_text())
    src = json.loads((hello_oci / "index.json").read_text())
    assert back["manifests"][0]["digest"] == src["manifests"][0]["digest"]

    env = containers_env(tmp_path)
    base = [podman, *_storage_args(tmp_path, runroot)]

    def run(*args: str) -> str:
        r = subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, f"{args}: {r.stderr}"
        return r.stdout

    target = f"{cluster.lb.host}/library/from-podman:1"
    run("pull", "--tls-verify=false", f"{cluster.lb.host}/library/hello:1")
    image = json.loads(run("images", "--format", "json"))[0]["Id"]
    run("push", "--tls-verify=false", "--creds", CREDS, image, f"docker://{target}")
    run("rmi", "-a", "-f")
    run("pull", "--tls-verify=false", target)
    assert target in run("images", "--format", "{{.Repository}}:{{.Tag}}")
    with _client(cluster) as c:
        tags = c.get("/v2/library/from-podman/tags/list").json()["tags"]
    assert tags == ["1"]


def _push_image(c: httpx.Client, repo: str, tag: str, payload: bytes) -> tuple[int, str]:
    """A one-layer image pushed blob by blob, then its manifest; the manifest PUT's
    status and the manifest's digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "x": tag}).encode()
    for blob in (payload, config):
        r = c.post(
            f"/v2/{repo}/blobs/uploads/", params={"digest": str(digest_bytes(blob))}, content=blob
        )
        assert r.status_code == 201, r.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": {
                "mediaType": media.OCI_CONFIG,
                "digest": str(digest_bytes(config)),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": media.OCI_LAYER,
                    "digest": str(digest_bytes(payload)),
                    "size": len(payload),
                }
            ],
        }
    ).encode()
    r = c.put(
        f"/v2/{repo}/manifests/{tag}",
        content=manifest,
        headers={"Content-Type": media.OCI_MANIFEST},
    )
    return r.status_code, str(digest_bytes(manifest))


def test_gc_on_one_replica_while_the_others_take_pushes_loses_nothing(cluster: Cluster) -> None:
    garbage = [os.urandom(1000) for _ in range(3)]
    with _client(cluster) as c:
        for blob in garbage:  # linked to a repository, named by no manifest
            r = c.post(
                "/v2/library/gc/blobs/uploads/",
                params={"digest": str(digest_bytes(blob))},
                content=blob,
            )
            assert r.status_code == 201, r.text
    time.sleep(GRACE + 1.1)  # older than the grace period (S3 times are whole seconds)

    replica = cluster.replicas[0]
    gc_args = ["registry", "gc", "--data-dir", str(replica.data_dir), "--grace", f"{GRACE:g}s"]
    gc_env = {**S3_ENV, "IMAGEFORGE_REGISTRY_DB": cluster.db}
    gc_env["IMAGEFORGE_REGISTRY_STORAGE"] = cluster.storage
    pushed: dict[tuple[str, str], tuple[str, bytes]] = {}
    failures: list[str] = []
    done = threading.Event()

    def pusher(n: int) -> None:
        with _client(cluster) as c:
            for i in range(6):
                payload = os.urandom(20_000)
                status, digest = _push_image(c, f"library/p{n}", f"t{i}", payload)
                if status == 201:
                    pushed[(f"library/p{n}", f"t{i}")] = (digest, payload)
                else:
                    failures.append(f"p{n}:t{i} {status}")

    collections: list[dict[str, Any]] = []

    def collector() -> None:
        while not done.is_set() or not collections:
            r = run_cli([*gc_args, "--format", "json"], env=gc_env)
            if r.returncode == 0:
                collections.append(json.loads(r.stdout))
            else:  # another collection holds the lock: the only way it may fail
                assert "another garbage collection is running" in r.stderr, r.stderr

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(3)]
    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    gc_thread.join()

    assert failures == []
    assert len(pushed) == 18
    collected = {b for report in collections for b in report["blobs"]}
    assert {str(digest_bytes(b)) for b in garbage} <= collected
    with _client(cluster) as c:
        for (repo, tag), (digest, payload) in pushed.items():
            r = c.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": media.OCI_MANIFEST})
            assert r.status_code == 200 and str(digest_bytes(r.content)) == digest
            for layer in json.loads(r.content)["layers"]:
                got = c.get(f"/v2/{repo}/blobs/{layer['digest']}")
                assert got.status_code == 200, (repo, tag)
                assert got.content == payload
            config = json.loads(r.content)["config"]["digest"]
            assert str(digest_bytes(c.get(f"/v2/{repo}/blobs/{config}").content)) == config
        for blob in garbage:
            assert c.head(f"/v2/library/gc/blobs/{digest_bytes(blob)}").status_code == 404


def _wait(what: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout:g} s"
        time.sleep(0.2)


def _count(meta: MetaStore, sql: str, *args: object) -> int:
    return int(str(meta.query(sql, *args)[0][0]))


def test_scheduled_jobs_and_scans_run_once_across_replicas(
    cluster: Cluster, hello_oci: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"  # a replication target nobody answers at
    with _client(cluster) as c:
        # an upload left unfinished: expires while the schedules below run
        r = c.post("/v2/library/left/blobs/uploads/")
        assert r.status_code == 202, r.text
        where = r.headers["location"]
        assert c.patch(where, content=b"never finished" * 1000).status_code == 202
        left = where.rsplit("/", 1)[1]
        left_at = time.monotonic()
        r = c.put(
            "/api/v1/projects/library/retention",
            json={"rules": [{"keep": "always", "tags": ["*"]}], "schedule": YEARLY},
        )
        assert r.status_code == 200, r.text
        rule = {
            "name": "nightly",
            "endpoint": {"url": closed, "username": "u", "password": "p"},
            "trigger": "cron",
            "cron": YEARLY,
            "repositories": ["library/nothing-here"],  # a run with nothing to send
        }
        r = c.post("/api/v1/replication/rules", json=rule)
        assert r.status_code == 201, r.text
        assert c.post("/api/v1/projects", json={"name": "scanned"}).status_code == 201
        r = c.put("/api/v1/projects/scanned/policy", json={"scan_on_push": True})
        assert r.status_code == 200, r.text
    meta = MetaStore(cluster.db)
    try:
        store = RetentionStore(meta)
        store.set_schedule(GC_SCHEDULE, YEARLY, time.time() + 3600)
        counts = {
            GC_SCHEDULE: "SELECT count(*) FROM audit WHERE action = 'gc' AND ref = 'schedule'",
            "retention:library": "SELECT count(*) FROM retention_runs WHERE trigger = 'schedule'",
            "replication:nightly": "SELECT count(*) FROM replication_runs WHERE trigger = 'cron'",
        }
        for name, sql in counts.items():  # one at a time: each comes due once
            assert _count(meta, sql) == 0
            store.set_schedule(name, YEARLY, time.time() - 1)
            _wait(f"{name} ran", lambda sql=sql: _count(meta, sql) >= 1)
            # every replica's schedule looks every 5 s: give each two more looks
            time.sleep(11)
            assert _count(meta, sql) == 1, name
        assert [str(r[0]) for r in meta.query("SELECT status FROM replication_runs")] == ["done"]

        skopeo(
            "copy", "--dest-tls-verify=false", "--dest-creds", CREDS,
            f"oci:{hello_oci}:1", f"docker://{cluster.lb.host}/scanned/hello:1",
        )  # fmt: skip
        _wait("the scan", lambda: _count(meta, "SELECT count(*) FROM scan_results") >= 1)
        jobs = meta.query("SELECT state, attempts FROM scan_jobs")
        assert [(str(s), int(str(a))) for s, a in jobs] == [("done", 1)]
        assert _count(meta, "SELECT count(*) FROM scan_results") == 1

        # the unfinished upload: purged once, by one replica, with its data
        purged = "SELECT count(*) FROM audit WHERE action = 'purge-upload' AND ref = ?"
        _wait("the upload's expiry", lambda: _count(meta, purged, left) >= 1)
        time.sleep(max(0.0, left_at + UPLOAD_EXPIRY + 11 - time.monotonic()))  # two more looks
        [(user, repo, detail)] = meta.query(
            "SELECT \"user\", repo, detail FROM audit WHERE action = 'purge-upload' AND ref = ?",
            left,
        )
        pids = {str(s.proc.pid) for s in cluster.replicas if s.proc is not None}
        assert (user, repo) == ("scheduler", "library/left")
        assert str(detail).rsplit(":", 1)[1] in pids, detail
        with _client(cluster) as c:
            assert c.get(where).status_code == 404
        for k, v in S3_ENV.items():
            monkeypatch.setenv(k, v)
        storage = S3BlobStorage(cluster.storage)
        s3 = storage.client
        prefix = storage.ingest_key(ingest_ref(left))
        bucket = storage.location.bucket
        assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []) == []
        assert s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", []) == []
    finally:
        meta.close()


def test_a_token_from_the_balancer_works_on_every_replica(cluster: Cluster) -> None:
    with _client(cluster) as c:
        token = c.get("/token", params={"scope": "repository:library/hello:pull"}).json()
    for replica in cluster.replicas:
        r = httpx.get(f"{replica.url}/v2/", headers={"Authorization": f"Bearer {token['token']}"})
        assert r.status_code == 200, replica.log()
