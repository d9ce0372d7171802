"""Replication rules with direction ``pull``: another registry's images fetched into
this one. distribution 2.8 as the source of a served imageforge registry: the tags the
rule selects arrive with identical digests (skopeo inspect both), a signature that
verifies against the copy, a tag gone at the source is deleted here, and a killed run's
next run fetches nothing again that arrived (distribution's own request log). A hostile
source (a manifest under another digest, a redirect to another host, a blob that is not
its digest) is refused and nothing is stored."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, media
from imageforge.pipeline import RegistryReplicator
from imageforge.registry import RegistryConfig, RegistryState, open_registry
from imageforge.registry.meta import MetaStore, Quota
from imageforge.registry.service import OPERATOR
from tests.conftest import imageforge_cmd, run_cli
from tests.registry.conftest import (
    ADMIN_PASSWORD,
    Server,
    make_server,
    serving_app,
    skopeo,
)
from tests.remote.conftest import (
    DIST_PASSWORD,
    DIST_USER,
    Distribution,
    make_index_layout,
    ok,
)
from tests.sign.conftest import PASSWORD, KeyPair, write_pair
from tests.sign.conftest import two_images as two_images

NO_TLS = "--tls-verify=false"
_DIST_CREDS = f"{DIST_USER}:{DIST_PASSWORD}"


# --- a hostile source, in this process


def _doc(config: bytes) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": {
                "mediaType": media.OCI_CONFIG,
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()


_CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
_GOOD = _doc(_CONFIG)
_GOOD_DIGEST = "sha256:" + hashlib.sha256(_GOOD).hexdigest()
_FORGED = "sha256:" + "0" * 64
_OTHER = _doc(b'{"os":"linux"}')  # a config the source answers other bytes for


def _hostile(elsewhere: str) -> Starlette:
    """A source without a catalog: ``evil/fine`` is a good image; ``evil/mismatch``
    names a digest its manifest does not have; ``evil/redirect`` sends the manifest's
    GET to ``elsewhere`` (another host); ``evil/badblob``'s config is other bytes."""

    async def tags(request: Request) -> Response:
        return JSONResponse({"name": request.path_params["name"], "tags": ["1"]})

    async def manifest(request: Request) -> Response:
        name = request.path_params["name"]
        body = _OTHER if name == "evil/badblob" else _GOOD
        named = _FORGED if name == "evil/mismatch" else "sha256:" + hashlib.sha256(body).hexdigest()
        headers = {"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": named}
        if request.method == "HEAD":
            return Response(b"", headers={**headers, "Content-Length": str(len(body))})
        if name == "evil/redirect":
            return RedirectResponse(f"{elsewhere}/manifest", 307)
        return Response(body, headers=headers)

    async def blob(request: Request) -> Response:
        return Response(b"{ }" if request.path_params["name"] == "evil/badblob" else _CONFIG)

    async def ping(request: Request) -> Response:
        return Response(b"{}")

    return Starlette(
        routes=[
            Route("/v2/", ping),
            Route("/v2/{name:path}/tags/list", tags),
            Route("/v2/{name:path}/manifests/{ref}", manifest, methods=["GET", "HEAD"]),
            Route("/v2/{name:path}/blobs/{ref}", blob),
        ]
    )


def _elsewhere(seen: list[str]) -> Starlette:
    async def anything(request: Request) -> Response:
        seen.append(f"{request.method} {request.url.path}")
        return Response(_GOOD)

    return Starlette(routes=[Route("/{what}", anything, methods=["GET", "HEAD"])])


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RegistryState]:
    """A registry opened in this process with the pipeline's replicator."""
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    state = open_registry(RegistryConfig(tmp_path / "data"), replicator=RegistryReplicator)
    assert state.replication is not None
    state.replication.attempts = 1  # a refusal is not retried here
    try:
        yield state
    finally:
        assert state.replication.replicator is not None
        state.replication.replicator.close()  # type: ignore[attr-defined]
        state.meta.close()


def test_a_hostile_source_is_refused_and_nothing_is_stored(here: RegistryState) -> None:
    assert here.replication is not None
    r = here.replication
    here.webhooks.add(here.manage, OPERATOR, "library", "ops", "http://127.0.0.1:9/hook",
                      ["push", "replication"])  # fmt: skip
    seen: list[str] = []
    with serving_app(_elsewhere(seen)) as elsewhere, serving_app(_hostile(elsewhere)) as hostile:
        endpoint = {"url": hostile}
        # no catalog there: only repositories named literally can be pulled
        r.add(OPERATOR, {"name": "globs", "direction": "pull", "endpoint": endpoint,
                         "repositories": ["evil/*"]})  # fmt: skip
        with pytest.raises(InvalidArgument, match="lists no repositories"):
            r.run(OPERATOR, "globs")
        # into a project that is not here: refused before anything is fetched
        r.add(OPERATOR, {"name": "nowhere", "direction": "pull", "endpoint": endpoint,
                         "repositories": ["evil/fine"]})  # fmt: skip
        with pytest.raises(InvalidArgument, match="project evil, which does not exist here"):
            r.run(OPERATOR, "nowhere")
        repos = ["evil/fine", "evil/mismatch", "evil/redirect", "evil/badblob"]
        r.add(OPERATOR, {"name": "hostile", "direction": "pull", "endpoint": endpoint,
                         "repositories": repos, "destination_namespace": "library"})  # fmt: skip
        run = r.run(OPERATOR, "hostile")
    errors = {i.repository: i.error for i in run.items}
    assert run.status == "failed" and [i.status for i in run.items].count("done") == 1, errors
    assert f"has digest {_GOOD_DIGEST}; refused, nothing was stored" in errors["evil/mismatch"]
    assert "another host; refused before following it" in errors["evil/redirect"]
    assert "blob content has digest" in errors["evil/badblob"]
    assert "refused, nothing was stored" in errors["evil/badblob"]
    assert seen == []  # the redirect was not followed
    # the good one arrived, by its digest; nothing of the others is here
    assert here.meta.resolve_tag("library/fine", "1") == Digest(_GOOD_DIGEST)
    for name in ("mismatch", "redirect", "badblob"):
        assert not here.meta.repo_exists(f"library/{name}")
    bad = Digest("sha256:" + hashlib.sha256(b"{ }").hexdigest())
    assert not here.storage.exists(bad)
    # webhooks heard of the image stored (a push) and of the run and its failures
    rows = here.meta.query("SELECT event, payload FROM webhook_deliveries ORDER BY id")
    payloads = {str(e): json.loads(str(p)) for e, p in rows}
    assert payloads["push"]["event_data"]["repository"]["repo_full_name"] == "library/fine"
    report = payloads["replication"]["event_data"]["replication"]
    assert report["status"] == "failed" and report["rule"] == "hostile"
    assert sorted(f["repository"] for f in report["failures"]) == [
        "evil/badblob", "evil/mismatch", "evil/redirect",
    ]  # fmt: skip


# --- distribution 2.8 as the source of a served registry


class World:
    """distribution 2.8 (logging every request) holding library/app:1, :2, :dev (app:1
    signed), library/tools:1 and library/old:1 (both app:2's image), the two-platform
    index library/multi:1; a served imageforge registry to pull into, with the project
    ``mirror``; a key pair; an auth file."""

    def __init__(self, base: Path, images: Path) -> None:
        self.base = base
        self.root = images
        self.keys: KeyPair = write_pair(base / "keys")
        self.authfile = base / "auth.json"
        self.dist = Distribution(base / "distribution", log_level="info")
        # a long lease: the run the test kills is continued by the CLI, not this server
        self.here: Server = make_server(base / "here", '[registry]\nreplication_lease = "1h"\n')
        self.digests: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        return {"REGISTRY_AUTH_FILE": str(self.authfile), "COSIGN_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, two_images: Path, hello_oci: Path
) -> Iterator[World]:
    from imageforge.pipeline import Session, copy
    from imageforge.remote import Credentials, save_credentials

    w = World(tmp_path_factory.mktemp("pull"), two_images)
    w.dist.start()
    w.here.start()
    try:
        save_credentials(w.dist.host, Credentials(DIST_USER, DIST_PASSWORD), w.authfile)
        save_credentials(w.here.host, Credentials("admin", ADMIN_PASSWORD), w.authfile)
        with Session(w.root, tls_verify=False, authfile=w.authfile) as s:
            for image, ref in (
                ("hello:1", "library/app:1"),
                ("hello:2", "library/app:2"),
                ("hello:1", "library/app:dev"),
                ("hello:2", "library/tools:1"),
                ("hello:2", "library/old:1"),
            ):
                w.digests[ref] = str(copy(s, image, f"docker://{w.dist.host}/{ref}"))
        make_index_layout(hello_oci, w.base / "multi")
        multi = f"docker://{w.dist.host}/library/multi:1"
        skopeo("copy", "--all", "--dest-tls-verify=false", "--dest-creds", _DIST_CREDS,
               f"oci:{w.base / 'multi'}:multi", multi)  # fmt: skip
        ok(
            run_cli(
                ["--root", str(w.root), "sign", f"docker://{w.dist.host}/library/app:1",
                 "--key", str(w.keys.private), NO_TLS],
                env=w.env(),
            )
        )  # fmt: skip
        with w.here.client() as c:
            assert c.post("/api/v1/projects", json={"name": "mirror"}).status_code == 201
        yield w
    finally:
        w.here.stop()
        w.dist.stop()


def _raw_digest(host: str, ref: str, creds: str) -> str:
    """The digest of the manifest (or index) as the registry serves it."""
    raw = skopeo("inspect", "--raw", NO_TLS, "--creds", creds, f"docker://{host}/{ref}").stdout
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _digest(host: str, ref: str, creds: str) -> str | None:
    r = skopeo("inspect", "--raw", NO_TLS, "--creds", creds, f"docker://{host}/{ref}", check=False)
    if r.returncode != 0:
        return None
    r = skopeo("inspect", "--format", "{{.Digest}}", NO_TLS, "--creds", creds,
               f"docker://{host}/{ref}")  # fmt: skip
    return r.stdout.strip()


@pytest.mark.slow
def test_pull_from_distribution_by_api_with_its_signature_and_deletions(world: World) -> None:
    endpoint = {"name": "dist", "url": f"http://{world.dist.host}", "username": DIST_USER,
                "password": DIST_PASSWORD}  # fmt: skip
    body = {"name": "from-dist", "direction": "pull", "endpoint": "dist",
            "repositories": ["library/app", "library/old", "library/multi"],
            "exclude_tags": ["dev"],
            "destination_namespace": "mirror", "mirror_deletions": True}  # fmt: skip
    here = f"admin:{ADMIN_PASSWORD}"
    with world.here.client() as c:
        assert c.post("/api/v1/replication/endpoints", json=endpoint).status_code == 201
        r = c.post("/api/v1/replication/rules", json={**body, "trigger": "on_push"})
        assert r.status_code == 400 and "cannot be triggered on push" in r.text
        r = c.post("/api/v1/replication/rules", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["direction"] == "pull" and DIST_PASSWORD not in r.text
        assert [x["direction"] for x in c.get("/api/v1/replication/rules").json()] == ["pull"]
        r = c.post("/api/v1/replication/rules/from-dist/runs", json={"wait": True}, timeout=300)
        assert r.status_code == 201, r.text
        run = r.json()
    assert run["status"] == "done", run
    pulled = sorted((i["repository"], i["tag"], i["destination"]) for i in run["items"])
    assert pulled == [  # dev excluded, tools not selected
        ("library/app", "1", "mirror/app"),
        ("library/app", "2", "mirror/app"),
        ("library/multi", "1", "mirror/multi"),
        ("library/old", "1", "mirror/old"),
    ]
    assert run["blobs"] > 0 and run["bytes"] > 0
    for tag in ("1", "2"):
        there = _digest(world.dist.host, f"library/app:{tag}", _DIST_CREDS)
        assert there == world.digests[f"library/app:{tag}"]
        assert _digest(world.here.host, f"mirror/app:{tag}", here) == there
    # the index and both its images, byte for byte
    index = _raw_digest(world.dist.host, "library/multi:1", _DIST_CREDS)
    assert _raw_digest(world.here.host, "mirror/multi:1", here) == index
    raw = skopeo("inspect", "--raw", NO_TLS, "--creds", here,
                 f"docker://{world.here.host}/mirror/multi:1").stdout  # fmt: skip
    children = [m["digest"] for m in json.loads(raw)["manifests"]]
    assert len(children) == 2
    for child in children:
        assert _raw_digest(world.here.host, f"mirror/multi@{child}", here) == child
    assert _digest(world.here.host, "mirror/app:dev", here) is None
    assert _digest(world.here.host, "mirror/tools:1", here) is None
    verified = run_cli(
        ["--root", str(world.root), "verify", f"{world.here.host}/mirror/app:1",
         "--key", str(world.keys.public), "--format", "json", NO_TLS],
        env=world.env(),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert len(json.loads(verified.stdout)["signatures"]) == 1

    # again: everything is here, nothing is fetched
    with world.here.client() as c:
        again = c.post("/api/v1/replication/rules/from-dist/runs", json={"wait": True},
                       timeout=300).json()  # fmt: skip
    assert again["status"] == "done" and again["blobs"] == 0 and again["bytes"] == 0

    # a tag gone at the source goes here too; the others stay
    with world.here.client() as c:
        assert c.get("/v2/mirror/old/manifests/1").status_code == 200
    gone = world.digests["library/old:1"]
    r = httpx.delete(f"http://{world.dist.host}/v2/library/old/manifests/{gone}",
                     auth=(DIST_USER, DIST_PASSWORD))  # fmt: skip
    assert r.status_code == 202, r.text
    with world.here.client() as c:
        third = c.post("/api/v1/replication/rules/from-dist/runs", json={"wait": True},
                       timeout=300).json()  # fmt: skip
        assert third["status"] == "done", third
        assert sorted((i["kind"], i["repository"], i["tag"]) for i in third["items"]) == [
            ("copy", "library/app", "1"), ("copy", "library/app", "2"),
            ("copy", "library/multi", "1"), ("delete", "library/old", "1"),
        ]  # fmt: skip
        assert c.get("/v2/mirror/old/manifests/1").status_code == 404
        assert c.get("/v2/mirror/app/manifests/2").status_code == 200


_FETCHED = re.compile(
    r"http\.request\.method=GET .*http\.request\.uri=\"?/v2/(\S+?)/blobs/(sha256:[0-9a-f]{64})"
    r".*http\.response\.status=200"
)


def _blob_gets(dist: Distribution) -> list[tuple[str, str]]:
    """The blobs distribution served, in order: (repository, digest)."""
    log = (dist.root / "log").read_text(errors="replace")
    return [(m[1], m[2]) for m in _FETCHED.finditer(log)]


@pytest.mark.slow
def test_a_killed_pull_run_resumes_fetching_only_what_is_missing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a data directory of its own (nothing of the images here yet), by the CLI."""
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    open_registry(RegistryConfig(tmp_path / "data")).meta.close()  # as a first start does
    data = ["--data-dir", str(tmp_path / "data")]
    ok(run_cli(["registry", "project", "add", "resumed", *data]))
    added = ok(
        run_cli(
            ["registry", "replication", "add", "slow-pull", f"http://{world.dist.host}",
             "--direction", "pull", "--username", DIST_USER, "--password-env", "DIST_PW",
             "--repository", "library/app", "--repository", "library/tools", "--exclude-tag",
             "dev", "--dest-namespace", "resumed",
             "--bandwidth", "4000", *data],
            env={"DIST_PW": DIST_PASSWORD},
        )
    )  # fmt: skip
    assert f"replication rule slow-pull <- http://{world.dist.host} added" in added.stderr
    listed = ok(run_cli(["registry", "replication", "list", *data]))
    assert re.search(r"slow-pull\s+│?\s*pull", listed.stdout), listed.stdout
    before = len(_blob_gets(world.dist))
    proc = subprocess.Popen(
        [*imageforge_cmd(), "registry", "replication", "run", "slow-pull", "--lease", "2s", *data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    meta = MetaStore(tmp_path / "data" / "meta.db")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        rows = meta.query(
            "SELECT i.status FROM replication_items i JOIN replication_runs r ON i.run = r.id"
            " WHERE r.rule = 'slow-pull'"
        )
        if any(str(r[0]) == "done" for r in rows):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    arrived = {str(r[0]) for r in meta.query("SELECT digest FROM blob_sizes")}
    first = _blob_gets(world.dist)[before:]
    assert first, "the first run fetched nothing before it was killed"

    time.sleep(2.5)  # its lease expires: the rule's next run continues it
    r = run_cli(["registry", "replication", "run", "slow-pull", "--format", "json",
                 "--lease", "2s", *data], timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    resumed = _blob_gets(world.dist)[before + len(first) :]
    again = [d for _repo, d in resumed if d in arrived]
    assert again == [], "the second run fetched again what had arrived"
    # tools:1 is app:2's image: linked here, not fetched
    assert not [g for g in first + resumed if g[0] == "library/tools"]
    assert run["blobs"] <= len(resumed)
    for ref in ("app:1", "app:2", "tools:1"):
        repo, tag = ref.split(":")
        assert str(meta.resolve_tag(f"resumed/{repo}", tag)) == world.digests[f"library/{ref}"]
    meta.close()
    hist = ok(run_cli(["registry", "replication", "history", "slow-pull", "--format", "json",
                       *data]))  # fmt: skip
    runs = json.loads(hist.stdout)
    assert [h["status"] for h in runs] == ["done", "interrupted"]
    assert f"run {run['id']} continues it" in runs[1]["error"]


def test_what_a_pull_stores_counts_against_the_project_quota(here: RegistryState) -> None:
    assert here.replication is not None
    r = here.replication
    here.meta.add_project("team", False)
    here.meta.set_quota("team", Quota(10))  # fewer bytes than the image's config
    with serving_app(_elsewhere([])) as elsewhere, serving_app(_hostile(elsewhere)) as hostile:
        rule = {"name": "fine", "direction": "pull", "endpoint": {"url": hostile},
                "repositories": ["evil/fine"], "destination_namespace": "team"}  # fmt: skip
        r.add(OPERATOR, rule)
        [item] = r.run(OPERATOR, "fine").items
        assert item.status == "failed" and "quota" in item.error, item
        assert not here.meta.repo_exists("team/fine")
        here.meta.set_quota("team", None)
        [item] = r.run(OPERATOR, "fine").items
    # the refused blob was kept unlinked (as a refused push's is, for gc): linked now
    assert item.status == "done" and item.blobs == 0 and item.bytes == 0
    assert here.meta.resolve_tag("team/fine", "1") == Digest(_GOOD_DIGEST)
