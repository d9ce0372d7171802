"""Pull-through proxy-cache projects: Debian's docker-registry (distribution 2.8) as the
upstream of project ``hub`` of a registry served here (also in mirror mode), pulled
through with skopeo and podman; what the upstream serves is counted on its access log."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from imageforge.errors import InvalidArgument, Unavailable
from imageforge.oci import Digest, media
from imageforge.pipeline import HttpUpstream
from imageforge.registry import RegistryConfig, RegistryState, open_registry
from imageforge.registry._secrets import SecretBox
from imageforge.registry.meta import Quota
from imageforge.registry.proxy import ProxyCache, UpstreamSpec, add_project, upstream_spec
from imageforge.registry.service import OPERATOR
from imageforge.registry.storage import S3BlobStorage
from tests.conftest import containers_env, need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, serving, serving_app, skopeo
from tests.registry.seaweedfs import ACCESS_KEY as S3_ACCESS_KEY
from tests.registry.seaweedfs import SECRET_KEY as S3_SECRET_KEY
from tests.registry.seaweedfs import SeaweedFS
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution, make_index_layout

pytestmark = pytest.mark.slow

_DIST_CREDS = f"{DIST_USER}:{DIST_PASSWORD}"


def _upstream_hits(upstream: Distribution) -> list[str]:
    """The requests the proxy made to the upstream (its user agent is imageforge)."""
    log = (upstream.root / "log").read_text(errors="replace")
    return [line for line in log.splitlines() if line.endswith('"imageforge"')]


def _push_random_blob(upstream: Distribution, repo: str, size: int) -> tuple[str, bytes]:
    data = os.urandom(size)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=f"http://{upstream.host}", auth=(DIST_USER, DIST_PASSWORD)) as c:
        r = c.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        location = r.headers["location"]  # its query carries the upload's state
        sep = "&" if "?" in location else "?"
        r = c.put(f"{location}{sep}digest={digest}", content=data)
        assert r.status_code == 201, r.text
    return digest, data


def _open(tmp: Path, **kwargs: object) -> RegistryState:
    os.environ.setdefault("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    return open_registry(RegistryConfig(tmp), upstream=HttpUpstream, **kwargs)  # type: ignore[arg-type]


def _stored_passwords(data: Path) -> dict[str, str | None]:
    """The password column as the database holds it, read with sqlite3 itself."""
    with closing(sqlite3.connect(data / "meta.db")) as db:
        rows = db.execute("SELECT project, password FROM proxy_projects").fetchall()
    return {str(p): None if pw is None else str(pw) for p, pw in rows}


def _close(state: RegistryState) -> None:
    if state.proxy is not None:
        state.proxy.close()  # its connections to the upstreams
    state.meta.close()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, hello_oci: Path) -> Iterator[Distribution]:
    """distribution 2.8 (htpasswd auth) holding library/hello:1 and the two-platform
    index library/multi:1."""
    base = tmp_path_factory.mktemp("upstream")
    dist = Distribution(base / "dist")
    dist.start()
    make_index_layout(hello_oci, base / "multi")
    dest = f"docker://{dist.host}/library"
    flags = ["--dest-tls-verify=false", "--dest-creds", _DIST_CREDS]
    skopeo("copy", *flags, f"oci:{hello_oci}:1", f"{dest}/hello:1")
    skopeo("copy", "--all", *flags, f"oci:{base / 'multi'}:multi", f"{dest}/multi:1")
    try:
        yield dist
    finally:
        dist.stop()


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: Distribution
) -> Iterator[tuple[RegistryState, str]]:
    """A registry with the public proxy project ``hub`` of ``upstream`` (logging in as
    its user), in mirror mode from ``hub``; served here: (state, host)."""
    state = _open(tmp_path_factory.mktemp("proxy") / "data", mirror_project="hub")
    spec = UpstreamSpec(f"http://{upstream.host}", DIST_USER, DIST_PASSWORD)
    add_project(state.manage, OPERATOR, "hub", True, None, spec, state.secrets)
    try:
        with serving(state) as url:
            yield state, url.split("//", 1)[1]
    finally:
        _close(state)


def test_skopeo_pulls_through_then_from_the_cache(
    proxy: tuple[RegistryState, str], upstream: Distribution, tmp_path: Path
) -> None:
    state, host = proxy
    src = f"docker://{host}/hub/library/hello:1"
    direct = skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        f"docker://{upstream.host}/library/hello:1",
        "--creds",
        _DIST_CREDS,
    ).stdout
    skopeo("copy", "--src-tls-verify=false", src, f"oci:{tmp_path / 'first'}:1")
    first = _upstream_hits(upstream)
    assert any("/blobs/" in line for line in first)
    skopeo("copy", "--src-tls-verify=false", src, f"oci:{tmp_path / 'second'}:1")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", src).stdout
    assert raw == direct  # the same bytes, so the same digest
    assert _upstream_hits(upstream) == first  # the second pull never reached the upstream
    tags = state.meta.tags("hub/library/hello", None, None)
    assert tags == ["1"]


def test_multi_platform_index_pulls_through(
    proxy: tuple[RegistryState, str], upstream: Distribution, tmp_path: Path
) -> None:
    _state, host = proxy
    src = f"docker://{host}/hub/library/multi:1"
    skopeo("copy", "--all", "--src-tls-verify=false", src, f"oci:{tmp_path / 'all'}:1")
    index = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", src).stdout)
    assert index["mediaType"] == media.OCI_INDEX
    arches = set()
    for child in index["manifests"]:
        ref = f"docker://{host}/hub/library/multi@{child['digest']}"
        config = json.loads(skopeo("inspect", "--config", "--tls-verify=false", ref).stdout)
        arches.add(config["architecture"])
    assert arches == {"amd64", "arm64"}


def test_podman_pulls_through_mirror_mode(
    proxy: tuple[RegistryState, str], upstream: Distribution, tmp_path: Path, runroot: Path
) -> None:
    """podman with a registries.conf mirror: /v2/library/hello from a mirror client is
    hub/library/hello. The mirrored registry does not exist, so only the mirror can
    answer."""
    podman = need_binary("podman")
    _state, host = proxy
    conf = tmp_path / "registries.conf"
    conf.write_text(
        '[[registry]]\nlocation = "upstream.invalid"\n'
        f'[[registry.mirror]]\nlocation = "{host}"\ninsecure = true\n'
    )
    env = dict(containers_env(tmp_path), CONTAINERS_REGISTRIES_CONF=str(conf))
    storage = ["--root", str(tmp_path / "storage"), "--runroot", str(runroot)]
    storage += ["--storage-driver", "vfs"]
    r = subprocess.run(
        [podman, *storage, "pull", "upstream.invalid/library/hello:1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    names = subprocess.run(
        [podman, *storage, "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "upstream.invalid/library/hello:1" in names


def test_concurrent_first_pulls_of_a_blob_fetch_it_once(
    proxy: tuple[RegistryState, str], upstream: Distribution
) -> None:
    state, host = proxy
    digest, data = _push_random_blob(upstream, "library/big", 24 << 20)
    before = state.proxy.fetches.fetched if state.proxy else 0
    barrier = threading.Barrier(4)
    got: list[bytes] = []

    def pull() -> None:
        barrier.wait()
        with httpx.Client(timeout=120) as c:
            got.append(c.get(f"http://{host}/v2/hub/library/big/blobs/{digest}").content)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [data] * 4
    hits = [
        line for line in _upstream_hits(upstream) if f"GET /v2/library/big/blobs/{digest}" in line
    ]
    assert len(hits) == 1
    assert state.proxy is not None and state.proxy.fetches.fetched == before + 1
    assert state.storage.exists(Digest(digest))


def test_proxy_project_on_s3_storage(
    upstream: Distribution,
    seaweedfs: SeaweedFS,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy project of a registry whose blobs are in S3 (a real SeaweedFS): pulled
    through twice (the second time from S3, not the upstream), a blob larger than an S3
    part followed by two clients while it is fetched once, and pushes refused."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    config = RegistryConfig(tmp_path / "data", storage=seaweedfs.storage_url())
    state = open_registry(config, upstream=HttpUpstream)
    assert isinstance(state.storage, S3BlobStorage)
    spec = UpstreamSpec(f"http://{upstream.host}", DIST_USER, DIST_PASSWORD)
    add_project(state.manage, OPERATOR, "s3hub", True, None, spec, state.secrets)
    digest, data = _push_random_blob(upstream, "library/s3big", 12 << 20)  # > one 8 MiB part
    try:
        with serving(state) as url:
            host = url.split("//", 1)[1]
            src = f"docker://{host}/s3hub/library/hello:1"
            skopeo("copy", "--src-tls-verify=false", src, f"oci:{tmp_path / 'first'}:1")
            first = [line for line in _upstream_hits(upstream) if "/blobs/" in line]
            assert first
            skopeo("copy", "--src-tls-verify=false", src, f"oci:{tmp_path / 'second'}:1")
            assert [line for line in _upstream_hits(upstream) if "/blobs/" in line] == first

            barrier = threading.Barrier(2)
            got: list[bytes] = []

            def pull() -> None:
                barrier.wait()
                with httpx.Client(timeout=120, follow_redirects=True) as c:
                    got.append(c.get(f"{url}/v2/s3hub/library/s3big/blobs/{digest}").content)

            threads = [threading.Thread(target=pull) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert got == [data, data]
            hits = [
                line
                for line in _upstream_hits(upstream)
                if f"GET /v2/library/s3big/blobs/{digest}" in line
            ]
            assert len(hits) == 1
            assert state.storage.exists(Digest(digest))  # committed to S3, verified

            with httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD)) as c:
                r = c.post("/v2/s3hub/mine/blobs/uploads/")
                assert r.status_code == 403
                assert "proxy cache" in r.json()["errors"][0]["message"]
                r = c.put("/v2/s3hub/mine/manifests/1", content=b"{}")
                assert r.status_code == 403 and "proxy cache" in r.text
    finally:
        _close(state)


def test_push_into_a_proxy_project_is_refused(
    proxy: tuple[RegistryState, str], upstream: Distribution
) -> None:
    """A proxy project made through the API: what it answers, and pushes refused."""
    _state, host = proxy
    with httpx.Client(base_url=f"http://{host}", auth=("admin", ADMIN_PASSWORD)) as c:
        body = {"name": "apihub", "proxy_for": f"http://{upstream.host}"}
        r = c.post("/api/v1/projects", json={**body, "username": "u", "password": "pw-secret"})
        assert r.status_code == 201, r.text
        assert r.json()["proxy_for"] == f"http://{upstream.host}"
        assert "pw-secret" not in r.text
        scopes = {"scope": ["repository:apihub/mine:pull,push", "repository:x:pull"]}
        token = c.get("/token", params=scopes).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        r = c.post("/v2/apihub/mine/blobs/uploads/", headers=headers)
        assert r.status_code == 403
        error = r.json()["errors"][0]
        assert error["code"] == "DENIED"
        assert "proxy cache" in error["message"]
        r = c.put("/v2/apihub/mine/manifests/1", headers=headers, content=b"{}")
        assert r.status_code == 403
        mount = {"mount": "sha256:" + "a" * 64, "from": "x"}
        r = c.post("/v2/apihub/mine/blobs/uploads/", headers=headers, params=mount)
        assert r.status_code == 403 and "proxy cache" in r.text


def test_proxy_projects_added_or_deleted_through_the_api_count_at_once(
    proxy: tuple[RegistryState, str], upstream: Distribution
) -> None:
    """Which projects are proxies is kept in the process: a change through this
    server's API counts at the next request, however long the kept copy is good for."""
    state, host = proxy
    assert state.proxy is not None
    state.proxy.projects_refresh = 3600.0
    assert not state.proxy.proxied("newhub/library/hello")  # loaded now, good for an hour
    with httpx.Client(base_url=f"http://{host}", auth=("admin", ADMIN_PASSWORD)) as c:
        manifest = "/v2/newhub/library/hello/manifests/1"
        assert c.get(manifest).status_code == 404  # no such project: that was kept too
        body = {"name": "newhub", "proxy_for": f"http://{upstream.host}", "public": True}
        body |= {"username": DIST_USER, "password": DIST_PASSWORD}
        assert c.post("/api/v1/projects", json=body).status_code == 201
        r = c.get(manifest)
        assert r.status_code == 200, r.text
        assert c.delete("/api/v1/projects/newhub", params={"force": "true"}).status_code == 204
        assert c.post("/api/v1/projects", json={"name": "newhub"}).status_code == 201
        r = c.post("/v2/newhub/mine/blobs/uploads/")  # no longer a proxy: pushes allowed
        assert r.status_code == 202, r.text


def test_proxy_projects_changed_elsewhere_count_after_the_refresh(tmp_path: Path) -> None:
    """A project made a proxy by another process (here: written to the database
    directly) counts once the kept copy is older than ``projects_refresh``."""
    state = _open(tmp_path / "data")
    try:
        assert state.proxy is not None
        state.proxy.projects_refresh = 0.2
        state.manage.add_project(OPERATOR, "other", True, None)
        assert state.proxy.proxied("other/x") is False
        with state.meta.transaction() as db:
            db.execute(
                "INSERT INTO proxy_projects VALUES (?, ?, NULL, NULL, 0)",
                ("other", "http://127.0.0.1:9"),
            )
        assert state.proxy.proxied_now("other/x") is False  # the kept copy, still good
        deadline = time.monotonic() + 30
        while state.proxy.proxied_now("other/x") is False and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.proxy.proxied("other/x") is True
    finally:
        _close(state)


def test_quota_applies_to_cached_content(
    proxy: tuple[RegistryState, str], upstream: Distribution, tmp_path: Path
) -> None:
    state, host = proxy
    digest, _data = _push_random_blob(upstream, "library/toobig", 1 << 20)
    state.meta.set_quota("hub", Quota(state.meta.usage("hub").used + 1000))
    try:
        with pytest.raises(httpx.RemoteProtocolError):  # cut short before its last byte
            httpx.get(f"http://{host}/v2/hub/library/toobig/blobs/{digest}", timeout=60)
        assert not state.meta.blob_linked("hub/library/toobig", Digest(digest))
    finally:
        state.meta.set_quota("hub", None)


def test_a_tag_is_revalidated_after_the_ttl(
    proxy: tuple[RegistryState, str], upstream: Distribution, hello_oci: Path
) -> None:
    state, host = proxy
    assert state.proxy is not None
    flags = ["--tls-verify=false", "--dest-creds", _DIST_CREDS]
    there = f"docker://{upstream.host}/library/moving:1"
    here = f"docker://{host}/hub/library/moving:1"
    multi = f"docker://{upstream.host}/library/multi:1"

    def digest_here() -> str:
        r = httpx.head(
            f"http://{host}/v2/hub/library/moving/manifests/1",
            headers={"Accept": f"{media.OCI_MANIFEST}, {media.OCI_INDEX}"},
        )
        return r.headers["docker-content-digest"]

    skopeo("copy", *flags, f"oci:{hello_oci}:1", there)
    first = digest_here()
    skopeo("copy", "--all", *flags, "--src-creds", _DIST_CREDS, multi, there)  # moved upstream
    assert digest_here() == first  # within the TTL: the cache answers
    state.proxy.ttl = 0
    try:
        moved = digest_here()
        assert moved != first
        assert skopeo("inspect", "--raw", "--tls-verify=false", here).stdout.count("arm64") == 1
        skopeo("copy", *flags, f"oci:{hello_oci}:1", there)  # back to a cached manifest
        assert digest_here() == first
    finally:
        state.proxy.ttl = 300


def test_retention_applies_to_cached_content(proxy: tuple[RegistryState, str]) -> None:
    _state, host = proxy
    policy = {"rules": [{"keep": "always", "repositories": ["library/multi"]}]}
    with httpx.Client(base_url=f"http://{host}", auth=("admin", ADMIN_PASSWORD)) as c:
        assert c.put("/api/v1/projects/hub/retention", json=policy).status_code == 200
        r = c.post("/api/v1/projects/hub/retention/runs", json={"dry_run": True})
        assert r.status_code == 201, r.text
        would = {(a["repository"], tuple(a["tags"])) for a in r.json()["deleted"]}
        assert ("hub/library/hello", ("1",)) in would
        assert not any(repo == "hub/library/multi" for repo, _tags in would)


def test_upstream_stopped_cached_tags_pull_uncached_fail(
    proxy: tuple[RegistryState, str], upstream: Distribution, tmp_path: Path
) -> None:
    """Last of the module's tests on ``upstream``: it stops it (and starts it again)."""
    state, host = proxy
    src = f"docker://{host}/hub/library/hello:1"
    skopeo("copy", "--src-tls-verify=false", src, f"oci:{tmp_path / 'warm'}:1")
    upstream.stop()
    assert state.proxy is not None
    state.proxy.ttl = 0  # re-validate every time: the HEAD fails, the cache answers
    try:
        skopeo("copy", "--src-tls-verify=false", src, f"oci:{tmp_path / 'cached'}:1")
        r = skopeo(
            "inspect", "--tls-verify=false", f"docker://{host}/hub/library/absent:1", check=False
        )
        assert r.returncode != 0 and "503" in r.stderr
        got = httpx.get(f"http://{host}/v2/hub/library/absent/manifests/1", timeout=60)
        error = got.json()["errors"][0]
        assert got.status_code == 503 and error["code"] == "UNAVAILABLE"
        assert f"{upstream.host}/library/absent" in error["message"]
    finally:
        state.proxy.ttl = 300
        upstream.start()


# --- a bearer-token upstream: another imageforge registry, its private project


def test_token_auth_upstream(tmp_path: Path, hello_oci: Path) -> None:
    theirs = _open(tmp_path / "theirs")
    ours = _open(tmp_path / "ours")
    try:
        theirs.manage.add_project(OPERATOR, "priv", False)
        with serving(theirs) as their_url:
            their_host = their_url.split("//", 1)[1]
            skopeo(
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                f"admin:{ADMIN_PASSWORD}",
                f"oci:{hello_oci}:1",
                f"docker://{their_host}/priv/hello:1",
            )
            spec = UpstreamSpec(their_url, "admin", ADMIN_PASSWORD)
            add_project(ours.manage, OPERATOR, "mirror", True, None, spec, ours.secrets)
            # sealed at rest: the pull below logs in with the password opened again
            [stored] = _stored_passwords(tmp_path / "ours").values()
            assert stored is not None and ADMIN_PASSWORD not in stored
            with serving(ours) as our_url:
                host = our_url.split("//", 1)[1]
                skopeo(
                    "copy",
                    "--src-tls-verify=false",
                    f"docker://{host}/mirror/priv/hello:1",
                    f"oci:{tmp_path / 'out'}:1",
                )
    finally:
        _close(theirs)
        _close(ours)


# --- bad input from the upstream: refused, nothing cached

_GOOD = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {
            "mediaType": media.OCI_CONFIG,
            "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
            "size": 2,
        },
        "layers": [],
    }
).encode()
_GOOD_DIGEST = "sha256:" + hashlib.sha256(_GOOD).hexdigest()
_CONFIG_DIGEST = "sha256:" + hashlib.sha256(b"{}").hexdigest()


def _hostile(elsewhere: str) -> Starlette:
    """An upstream that answers garbage (repository garbage), a manifest under another
    digest (mismatch), the wrong bytes for a blob (fine), and redirects to the server
    ``elsewhere`` (another host): a manifest (repository redirect), a blob that is
    good there (redirect) and one that is not (redirect-bad)."""

    async def manifest(request: Request) -> Response:
        name = request.path_params["name"]
        headers = {"Content-Type": media.OCI_MANIFEST}
        if name == "garbage":
            return Response(b"\x00not json", headers={**headers, "Docker-Content-Digest": ""})
        if name == "mismatch":
            forged = "sha256:" + "0" * 64
            return Response(_GOOD, headers={**headers, "Docker-Content-Digest": forged})
        if name == "redirect":
            return RedirectResponse(f"{elsewhere}/manifest", 307)
        return Response(_GOOD, headers={**headers, "Docker-Content-Digest": _GOOD_DIGEST})

    async def blob(request: Request) -> Response:
        name = request.path_params["name"]
        if name.startswith("redirect"):
            good = "good" if name == "redirect" else "bad"
            return RedirectResponse(f"{elsewhere}/{good}", 307)
        return Response(b"{ }")  # not the bytes of _CONFIG_DIGEST

    async def ping(request: Request) -> Response:
        return Response(b"{}")

    return Starlette(
        routes=[
            Route("/v2/", ping),
            Route("/v2/{name}/manifests/{ref}", manifest, methods=["GET", "HEAD"]),
            Route("/v2/{name}/blobs/{ref}", blob),
        ]
    )


def _elsewhere(seen: list[str]) -> Starlette:
    """Another host: blob storage that serves the config blob (good) or other bytes
    (bad), and records every request it gets in ``seen``."""

    async def anything(request: Request) -> Response:
        seen.append(f"{request.method} {request.url.path} {request.headers.get('authorization')}")
        return Response(b"{}" if request.url.path == "/good" else b"{ }")

    return Starlette(routes=[Route("/{what}", anything, methods=["GET", "HEAD"])])


def test_bad_upstream_answers_are_refused_and_nothing_is_cached(tmp_path: Path) -> None:
    seen: list[str] = []
    state = _open(tmp_path / "data")
    try:
        with (
            serving_app(_elsewhere(seen)) as elsewhere,
            serving_app(_hostile(elsewhere)) as hostile,
        ):
            spec = UpstreamSpec(hostile, "proxyuser", "proxy-secret")
            add_project(state.manage, OPERATOR, "evil", True, None, spec, state.secrets)
            with serving(state) as url, httpx.Client(base_url=url, timeout=60) as c:
                for name, words in (
                    ("garbage", "not a manifest"),
                    ("mismatch", "not sha256:000"),
                    ("redirect", "another host; refused before following it"),
                ):
                    r = c.get(f"/v2/evil/{name}/manifests/1")
                    assert r.status_code == 503, r.text
                    assert words in r.json()["errors"][0]["message"]
                    assert state.meta.tags(
                        f"evil/{name}", None, None
                    ) == [] or not state.meta.repo_exists(f"evil/{name}")
                assert seen == []  # the manifest's redirect was not followed
                # a good manifest, but its blob's bytes are not the digest's
                assert c.get("/v2/evil/fine/manifests/1").status_code == 200
                with pytest.raises(httpx.HTTPError):
                    r = c.get(f"/v2/evil/fine/blobs/{_CONFIG_DIGEST}")
                    assert r.status_code != 200
                # a blob redirected to storage elsewhere is followed (without the
                # upstream's credentials) and checked: the wrong bytes are cut short
                with pytest.raises(httpx.HTTPError):
                    r = c.get(f"/v2/evil/redirect-bad/blobs/{_CONFIG_DIGEST}")
                    assert r.status_code != 200
                assert seen == ["GET /bad None"]
                assert not state.storage.exists(Digest(_CONFIG_DIGEST))
                # the right bytes there are served and cached
                r = c.get(f"/v2/evil/redirect/blobs/{_CONFIG_DIGEST}")
                assert r.status_code == 200 and r.content == b"{}"
                assert seen == ["GET /bad None", "GET /good None"]
        assert state.storage.exists(Digest(_CONFIG_DIGEST))
    finally:
        _close(state)


def test_a_public_upstream_may_not_redirect_blobs_into_the_local_network() -> None:
    """The checks on a redirect's target, made before it is followed (a public
    upstream cannot be run here: its address is only classified)."""
    public = HttpUpstream(UpstreamSpec("https://93.184.216.34"))
    local = HttpUpstream(UpstreamSpec("http://127.0.0.1:5000"))
    try:
        for target, words in (
            ("https://127.0.0.1:9000/blob", "127.0.0.1, not a public address"),
            ("https://[::1]:9000/blob", "::1, not a public address"),
            ("https://169.254.169.254/latest", "not a public address"),
            ("http://93.184.216.35/blob", "not https"),
        ):
            with pytest.raises(InvalidArgument, match=words):
                public._check_redirect(target, "blob x", True)
        public._check_redirect("https://93.184.216.35/blob", "blob x", True)
        with pytest.raises(InvalidArgument, match="another host"):
            public._check_redirect("https://93.184.216.35/m", "manifest x", False)
        # an upstream in the local network may use storage there
        local._check_redirect("http://127.0.0.2:9000/blob", "blob x", True)
    finally:
        public.close()
        local.close()


# --- the command and its checks


def test_upstream_passwords_are_sealed_at_rest_and_clear_ones_sealed_on_open(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    state = _open(data)
    try:
        spec = UpstreamSpec("https://new.example", "bob", "hunter2-new")
        add_project(state.manage, OPERATOR, "new", True, None, spec, state.secrets)
    finally:
        _close(state)
    with closing(sqlite3.connect(data / "meta.db")) as db, db:  # as an older version wrote it
        db.execute(
            "INSERT INTO proxy_projects VALUES (?, ?, ?, ?, 0)",
            ("old", "https://old.example", "al", "hunter2-old"),
        )
    assert _stored_passwords(data)["old"] == "hunter2-old"
    state = _open(data)  # opening the registry seals it
    try:
        sealed = _stored_passwords(data)
        assert all(pw and "hunter2" not in pw for pw in sealed.values()), sealed
        assert state.proxy is not None
        store = state.proxy.store
        for project, password in (("new", "hunter2-new"), ("old", "hunter2-old")):
            found = store.get(project)
            assert found is not None and store.opened(project, found).password == password
    finally:
        _close(state)
    state = _open(data)  # and again: nothing sealed twice
    try:
        assert _stored_passwords(data) == sealed
        # another key (a replica given the wrong --secret-key-file): a clear error naming
        # it when the upstream is used, the registry itself unharmed
        other = tmp_path / "other.key"
        wrong = ProxyCache(state.meta, state.storage, HttpUpstream, secrets=SecretBox(other))
        with pytest.raises(Unavailable, match="cannot be opened with this secret key") as err:
            wrong.upstream_of("old/library/alpine")
        assert str(other) in err.value.message
        assert _stored_passwords(data) == sealed
    finally:
        _close(state)


def test_project_add_proxy_cli_never_shows_the_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    state = _open(data)
    state.meta.close()
    args = ["registry", "project", "add", "cache", "--public", "--data-dir", str(data)]
    r = run_cli(
        [
            *args,
            "--proxy-for",
            "https://registry.example:5000/",
            "--username",
            "bob",
            "--password-stdin",
            "--format",
            "json",
        ],
        stdin_text="hunter2-upstream\n",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["proxy_for"] == "https://registry.example:5000"
    assert "hunter2" not in r.stdout + r.stderr
    [stored] = _stored_passwords(data).values()  # sealed with the data directory's key
    assert stored is not None and "hunter2" not in stored
    bad = run_cli([*args[:3], "other", "--data-dir", str(data), "--proxy-for", "ftp://x"])
    assert bad.returncode != 0 and "not an http(s) URL" in bad.stderr
    r = run_cli(["registry", "project", "list", "--data-dir", str(data), "--format", "json"])
    assert "hunter2" not in r.stdout
    assert "other" not in {p["name"] for p in json.loads(r.stdout)}  # nothing half-made
    serve = ["registry", "serve", "--data-dir", str(data), "--addr", "127.0.0.1:1"]
    bad = run_cli([*serve, "--mirror-project", "library"])
    assert bad.returncode != 0 and "library is not a proxy project" in bad.stderr


def test_upstream_spec_checks() -> None:
    assert upstream_spec(None, None, None) is None
    assert upstream_spec("http://h:5000", None, None) == UpstreamSpec("http://h:5000")
    for url, user, password in (
        ("http://h/path", None, None),
        ("http://u:p@h", None, None),
        ("http://h", "u", None),
        (None, "u", "p"),
    ):
        with pytest.raises(Exception, match="upstream|username|password|proxy-for"):
            upstream_spec(url, user, password)
