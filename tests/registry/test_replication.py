"""Replication end to end with real servers: a source ``registry serve`` replicating to
a second imageforge registry (token auth) and to distribution 2.8 (htpasswd): the tags
the rule selects arrive with identical digests (skopeo inspect) and a signature that
verifies there; an excluded tag does not; a killed run is continued by the rule's next
run, which sends only the blobs still missing (distribution's own request log), and a
killed server's run is taken over by the next server; a push starts an on-push rule, a
tag deleted here is deleted there; a run that cannot reach its endpoint fails, says why
and queues a webhook event."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.pipeline import Session, copy
from imageforge.remote import Credentials, save_credentials
from tests.conftest import imageforge_cmd, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, _free_port, make_server, skopeo
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution, ok
from tests.sign.conftest import PASSWORD, KeyPair, write_pair
from tests.sign.conftest import two_images as two_images

NO_TLS = "--tls-verify=false"


class World:
    """The source registry holding library/app:1, :2, :dev (app:1 signed) and
    library/tools:1; a store with hello:1 and hello:2; a key pair; an auth file."""

    def __init__(self, base: Path, images: Path) -> None:
        self.base = base
        self.root = images
        self.keys: KeyPair = write_pair(base / "keys")
        self.authfile = base / "auth.json"
        # a long lease: the runs the tests kill are continued by the CLI, not this server
        self.source = make_server(base / "source", '[registry]\nreplication_lease = "1h"\n')
        self.digests: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        return {"REGISTRY_AUTH_FILE": str(self.authfile), "COSIGN_PASSWORD": PASSWORD}

    def push(self, image: str, ref: str) -> str:
        with Session(self.root, tls_verify=False, authfile=self.authfile) as s:
            return str(copy(s, image, f"docker://{self.source.host}/{ref}"))

    def data(self, server: Server) -> list[str]:
        return ["--data-dir", str(server.data_dir)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, two_images: Path) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("replication"), two_images)
    w.source.start()
    try:
        save_credentials(w.source.host, Credentials("admin", ADMIN_PASSWORD), w.authfile)
        for image, ref in (
            ("hello:1", "library/app:1"),
            ("hello:2", "library/app:2"),
            ("hello:1", "library/app:dev"),
            ("hello:2", "library/tools:1"),
        ):
            w.digests[ref] = w.push(image, ref)
        ok(
            run_cli(
                [
                    "--root", str(w.root), "sign", f"docker://{w.source.host}/library/app:1",
                    "--key", str(w.keys.private), NO_TLS,
                ],
                env=w.env(),
            )
        )  # fmt: skip
        yield w
    finally:
        w.source.stop()


@pytest.fixture(scope="module")
def dest(world: World) -> Iterator[Server]:
    """A second imageforge registry (its admin's token auth)."""
    srv = make_server(world.base / "dest")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def dist(world: World) -> Iterator[Distribution]:
    """distribution 2.8 logging every request."""
    reg = Distribution(world.base / "distribution", log_level="info")
    reg.start()
    save_credentials(reg.host, Credentials(DIST_USER, DIST_PASSWORD), world.authfile)
    try:
        yield reg
    finally:
        reg.stop()


def _digest(host: str, ref: str, creds: str) -> str | None:
    r = skopeo("inspect", "--raw", NO_TLS, "--creds", creds, f"docker://{host}/{ref}", check=False)
    if r.returncode != 0:
        return None
    r = skopeo("inspect", "--format", "{{.Digest}}", NO_TLS, "--creds", creds,
               f"docker://{host}/{ref}")  # fmt: skip
    return r.stdout.strip()


def _verify(world: World, host: str, ref: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["--root", str(world.root), "verify", f"{host}/{ref}", "--key", str(world.keys.public),
         "--format", "json", NO_TLS],
        env=world.env(),
    )  # fmt: skip


def _rule(name: str, url: str, user: str, password: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "endpoint": {"url": url, "username": user, "password": password},
        **extra,
    }


@pytest.mark.slow
def test_replicate_to_imageforge_by_api_with_signatures_and_a_tag_filter(
    world: World, dest: Server
) -> None:
    endpoint = {"name": "ours", "url": dest.url, "username": "admin", "password": ADMIN_PASSWORD}
    body = {"name": "to-ours", "endpoint": "ours", "repositories": ["library/app"],
            "exclude_tags": ["dev"]}  # fmt: skip
    with world.source.client() as c:
        r = c.post("/api/v1/replication/rules", json=body)
        assert r.status_code == 400 and "replication endpoint ours does not exist" in r.text
        r = c.post("/api/v1/replication/endpoints", json=endpoint)
        assert r.status_code == 201, r.text
        assert ADMIN_PASSWORD not in r.text and r.json()["has_password"]
        r = c.post("/api/v1/replication/rules", json=body)
        assert r.status_code == 201, r.text
        assert ADMIN_PASSWORD not in r.text and r.json()["endpoint"]["has_password"]
        assert r.json()["endpoint"]["name"] == "ours"
        assert ADMIN_PASSWORD not in c.get("/api/v1/replication/rules").text
        assert ADMIN_PASSWORD not in c.get("/api/v1/replication/endpoints").text
        r = c.delete("/api/v1/replication/endpoints/ours")
        assert r.status_code == 409 and "used by rule(s) to-ours" in r.text
        with world.source.client("nobody", "x") as anonymous:
            assert anonymous.get("/api/v1/replication/rules").status_code == 401
            assert anonymous.get("/api/v1/replication/endpoints").status_code == 401
        r = c.post("/api/v1/replication/rules/to-ours/runs", json={"wait": True}, timeout=300)
        assert r.status_code == 201, r.text
        run = r.json()
    assert run["status"] == "done", run
    assert sorted(i["tag"] for i in run["items"]) == ["1", "2"]  # dev excluded, tools not selected
    creds = f"admin:{ADMIN_PASSWORD}"
    for tag in ("1", "2"):
        ref = f"library/app:{tag}"
        assert _digest(dest.host, ref, creds) == world.digests[ref]
    assert _digest(dest.host, "library/app:dev", creds) is None
    assert _digest(dest.host, "library/tools:1", creds) is None
    verified = _verify(world, dest.host, "library/app:1")
    assert verified.returncode == 0, verified.stderr
    assert len(json.loads(verified.stdout)["signatures"]) == 1

    # again: everything is there, nothing is sent, and history shows both runs
    with world.source.client() as c:
        again = c.post("/api/v1/replication/rules/to-ours/runs", json={"wait": True}, timeout=300)
        assert again.json()["status"] == "done" and again.json()["blobs"] == 0
        history = c.get("/api/v1/replication/rules/to-ours/runs").json()
        assert [h["id"] for h in history] == [again.json()["id"], run["id"]]
        assert c.get(f"/api/v1/replication/runs/{run['id']}").json()["blobs"] == run["blobs"] > 0


_UPLOADED = re.compile(
    r"http\.request\.method=PUT .*http\.request\.uri=\"?/v2/(\S+)/blobs/uploads/\S*"
    r"digest=sha256(?:%3A|:)([0-9a-f]{64}).*http\.response\.status=201"
)


def _blob_puts(dist: Distribution) -> list[tuple[str, str]]:
    """The blob uploads distribution completed, in order: (repository, digest)."""
    log = (dist.root / "log").read_text(errors="replace")
    return [(m[1], m[2]) for m in _UPLOADED.finditer(log)]


@pytest.mark.slow
def test_a_killed_run_to_distribution_resumes_sending_only_what_is_missing(
    world: World, dist: Distribution
) -> None:
    data = world.data(world.source)
    env = {"DIST_PW": DIST_PASSWORD}
    ok(
        run_cli(
            ["registry", "replication", "add", "to-dist", f"http://{dist.host}",
             "--username", DIST_USER, "--password-env", "DIST_PW", "--repository", "library/*",
             "--exclude-tag", "dev", "--bandwidth", "300", *data],
            env=env,
        )
    )  # fmt: skip
    shown = ok(run_cli(["registry", "replication", "show", "to-dist", "--format", "json", *data]))
    assert DIST_PASSWORD not in shown.stdout and json.loads(shown.stdout)["bandwidth"] > 0
    # the password is sealed with the data directory's secret key: not in the database
    stored = b"".join(p.read_bytes() for p in world.source.data_dir.glob("meta.db*"))
    assert b"replication_rules" in stored and DIST_PASSWORD.encode() not in stored

    # a run killed once its first item is through (the bandwidth limit keeps it slow)
    proc = subprocess.Popen(
        [*imageforge_cmd(), "registry", "replication", "run", "to-dist", "--lease", "2s", *data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    meta = world.source.meta()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        rows = meta.query(
            "SELECT i.status FROM replication_items i JOIN replication_runs r ON i.run = r.id"
            " WHERE r.rule = 'to-dist'"
        )
        if any(str(r[0]) == "done" for r in rows):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _blob_puts(dist)
    assert first, "the first run sent nothing before it was killed"

    time.sleep(2.5)  # its lease expires: the rule's next run continues it
    r = run_cli(["registry", "replication", "run", "to-dist", "--format", "json",
                 "--lease", "2s", *data], timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    puts = _blob_puts(dist)
    resumed = puts[len(first) :]
    assert len(puts) == len(set(puts)), "a blob was sent twice"
    assert not set(resumed) & set(first), "the second run sent again what the first had sent"
    # tools:1 has app:2's blobs: mounted there, not sent (the run's count: image blobs only)
    assert not [p for p in puts if p[0] == "library/tools"]
    assert run["blobs"] <= len(resumed)
    creds = f"{DIST_USER}:{DIST_PASSWORD}"
    for ref in ("library/app:1", "library/app:2", "library/tools:1"):
        assert _digest(dist.host, ref, creds) == world.digests[ref]
    assert _digest(dist.host, "library/app:dev", creds) is None
    r = _verify(world, dist.host, "library/app:1")
    assert r.returncode == 0, r.stderr

    hist = ok(run_cli(["registry", "replication", "history", "to-dist", "--format", "json", *data]))
    runs = json.loads(hist.stdout)
    statuses = [h["status"] for h in runs]
    assert statuses == ["done", "interrupted"]
    assert f"run {run['id']} continues it" in runs[1]["error"]

    # another key cannot open the password: said, naming the key file, nothing run
    other = world.base / "other.key"
    r = run_cli(["registry", "replication", "run", "to-dist", "--secret-key-file", str(other),
                 *data])  # fmt: skip
    assert r.returncode != 0
    assert "cannot be opened with this secret key" in r.stderr and str(other) in r.stderr
    hist = ok(run_cli(["registry", "replication", "history", "to-dist", "--format", "json", *data]))
    assert len(json.loads(hist.stdout)) == len(statuses)


@pytest.mark.slow
def test_a_push_starts_an_on_push_rule(world: World, dest: Server) -> None:
    body = _rule(
        "on-push", dest.url, "admin", ADMIN_PASSWORD,
        repositories=["library/pushed"], trigger="on_push", mirror_deletions=True,
    )  # fmt: skip
    with world.source.client() as c:
        assert c.post("/api/v1/replication/rules", json=body).status_code == 201
    digest = world.push("hello:2", "library/pushed:7")
    creds = f"admin:{ADMIN_PASSWORD}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _digest(dest.host, "library/pushed:7", creds) == digest:
            break
        time.sleep(0.5)
    assert _digest(dest.host, "library/pushed:7", creds) == digest
    with world.source.client() as c:
        [run] = c.get("/api/v1/replication/rules/on-push/runs").json()
    assert run["trigger"] == "on_push" and [i["tag"] for i in run["items"]] == ["7"]

    # the tag deleted here goes there too
    with world.source.client() as c:
        assert c.delete("/v2/library/pushed/manifests/7").status_code == 202
    while time.monotonic() < deadline and _digest(dest.host, "library/pushed:7", creds):
        time.sleep(0.5)
    assert _digest(dest.host, "library/pushed:7", creds) is None


def test_an_unreachable_endpoint_fails_the_run_and_queues_a_webhook_event(world: World) -> None:
    data = world.data(world.source)
    closed = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    ok(run_cli(["registry", "webhook", "add", "library", "ops", "http://127.0.0.1:9/hook",
                "--event", "replication", *data]))  # fmt: skip
    ok(run_cli(["registry", "replication", "endpoint", "add", "closed", "--url", closed, *data]))
    ok(run_cli(["registry", "replication", "add", "nowhere", "--endpoint", "closed",
                "--repository", "library/tools", *data]))  # fmt: skip
    r = run_cli(["registry", "replication", "endpoint", "remove", "closed", *data])
    assert r.returncode != 0 and "used by rule(s) nowhere" in r.stderr
    listed = ok(run_cli(["registry", "replication", "endpoint", "list", "--format", "json", *data]))
    assert {"name": "closed", "url": closed, "username": "", "insecure": True,
            "has_password": False} in json.loads(listed.stdout)  # fmt: skip
    r = run_cli(["registry", "replication", "run", "nowhere", *data], timeout=300)
    assert r.returncode != 0
    assert "1 failed of 1" in r.stderr and "127.0.0.1" in r.stdout + r.stderr
    rows = world.source.meta().query(
        "SELECT payload FROM webhook_deliveries WHERE event = 'replication'"
    )
    payloads = [json.loads(str(p[0])) for p in rows]
    [payload] = [p for p in payloads if p["event_data"]["replication"]["rule"] == "nowhere"]
    assert payload["type"] == "REPLICATION"
    data_ = payload["event_data"]["replication"]
    assert data_["status"] == "failed" and data_["failures"][0]["repository"] == "library/tools"


@pytest.mark.slow
def test_a_run_of_a_killed_server_is_taken_over_by_the_next_one(
    world: World, dist: Distribution
) -> None:
    """``kill -9`` of the serving registry mid-run: the next server on the same data
    directory takes the run over once its lease expires; every tag arrives and no blob
    is uploaded twice (distribution's own log)."""
    src = make_server(world.base / "leased", '[registry]\nreplication_lease = "2s"\n')
    src.start()
    try:
        save_credentials(src.host, Credentials("admin", ADMIN_PASSWORD), world.authfile)
        digests = {}
        with Session(world.root, tls_verify=False, authfile=world.authfile) as s:
            for image, ref in (("hello:1", "library/a:1"), ("hello:2", "library/b:1")):
                digests[ref] = str(copy(s, image, f"docker://{src.host}/{ref}"))
        body = _rule("leased", f"http://{dist.host}", DIST_USER, DIST_PASSWORD,
                     destination_namespace="taken", bandwidth=300)  # fmt: skip
        with src.client() as c:
            assert c.post("/api/v1/replication/rules", json=body).status_code == 201
            r = c.post("/api/v1/replication/rules/leased/runs", json={})
            assert r.status_code == 202, r.text
            run_id = r.json()["id"]
        meta = src.meta()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = meta.query("SELECT status FROM replication_items WHERE run = ?", run_id)
            if any(str(x[0]) == "done" for x in rows):
                break
            time.sleep(0.1)
        src.stop(signal.SIGKILL)
        killed = [p for p in _blob_puts(dist) if p[0].startswith("taken/")]
        assert killed, "the run sent nothing before the server was killed"
        assert src.meta().query("SELECT status FROM replication_runs WHERE id = ?", run_id) == [
            ("running",)
        ]

        src.start()
        with src.client() as c:
            while time.monotonic() < deadline:
                run = c.get(f"/api/v1/replication/runs/{run_id}").json()
                if run["status"] != "running":
                    break
                time.sleep(0.2)
        assert run["status"] == "done", run
        assert run["done"] == 2
        puts = [p for p in _blob_puts(dist) if p[0].startswith("taken/")]
        assert len(puts) == len(set(puts)), "a blob was uploaded twice"
        creds = f"{DIST_USER}:{DIST_PASSWORD}"
        for ref, digest in digests.items():
            assert _digest(dist.host, ref.replace("library/", "taken/"), creds) == digest
        assert "taken over" in src.log()
    finally:
        src.stop()
