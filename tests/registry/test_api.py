"""The Distribution Spec endpoints over real HTTP on loopback, and the server's robustness."""

from __future__ import annotations

import hashlib
import http.client
import json
import signal
import threading
from pathlib import Path

import httpx
import pytest

from imageforge.oci import digest_bytes, media
from tests.registry.conftest import Server, make_server


def _upload(c: httpx.Client, repo: str, data: bytes) -> str:
    digest = digest_bytes(data)
    r = c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == digest
    return str(digest)


def _image(c: httpx.Client, repo: str, layer: bytes = b"layer", **extra: object) -> bytes:
    config = b'{"architecture":"amd64","os":"linux"}'
    cd, ld = _upload(c, repo, config), _upload(c, repo, layer)
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {"mediaType": media.OCI_CONFIG, "digest": cd, "size": len(config)},
        "layers": [{"mediaType": media.OCI_LAYER_GZIP, "digest": ld, "size": len(layer)}],
        **extra,
    }
    return json.dumps(doc).encode()


def _put(
    c: httpx.Client, repo: str, ref: str, body: bytes, mt: str = media.OCI_MANIFEST
) -> httpx.Response:
    return c.put(f"/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": mt})


def _code(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["code"])


def test_base_endpoint_answers_with_the_api_version(server: Server) -> None:
    with server.client() as c:
        r = c.get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_blob_get_head_and_range(server: Server) -> None:
    data = bytes(range(256)) * 40
    with server.client() as c:
        d = _upload(c, "library/a", data)
        head = c.head(f"/v2/library/a/blobs/{d}")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
        assert c.get(f"/v2/library/a/blobs/{d}").content == data
        part = c.get(f"/v2/library/a/blobs/{d}", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        bad = c.get(f"/v2/library/a/blobs/{d}", headers={"Range": f"bytes={len(data)}-"})
        assert bad.status_code == 416
        # a blob is visible only in the repositories it was pushed to or mounted into
        other = c.get(f"/v2/library/b/blobs/{d}")
        assert other.status_code == 404 and _code(other) == "BLOB_UNKNOWN"


def test_chunked_upload_with_status_and_out_of_order_chunk(server: Server) -> None:
    data = b"x" * 3000 + b"y" * 3000
    digest = digest_bytes(data)
    with server.client() as c:
        start = c.post("/v2/library/c/blobs/uploads/")
        assert start.status_code == 202
        loc = start.headers["location"]
        r = c.patch(loc, content=data[:3000], headers={"Content-Range": "0-2999"})
        assert r.status_code == 202 and r.headers["range"] == "0-2999"
        skipped = c.patch(
            r.headers["location"], content=data[:10], headers={"Content-Range": "4000-4009"}
        )
        assert skipped.status_code == 416
        status = c.get(loc)
        assert status.status_code == 204 and status.headers["range"] == "0-2999"
        r = c.patch(loc, content=data[3000:], headers={"Content-Range": "3000-5999"})
        assert r.status_code == 202
        done = c.put(loc, params={"digest": digest})
        assert done.status_code == 201
        assert c.get(f"/v2/library/c/blobs/{digest}").content == data
        # the finished session is gone
        assert _code(c.get(loc)) == "BLOB_UPLOAD_UNKNOWN"


def test_blob_with_wrong_digest_is_rejected_and_not_stored(server: Server) -> None:
    claimed = digest_bytes(b"the real bytes")
    with server.client() as c:
        r = c.post("/v2/library/d/blobs/uploads/", params={"digest": claimed}, content=b"evil")
        assert r.status_code == 400 and _code(r) == "DIGEST_INVALID"
        assert c.head(f"/v2/library/d/blobs/{claimed}").status_code == 404
        assert c.head(f"/v2/library/d/blobs/{digest_bytes(b'evil')}").status_code == 404
    stored = list((server.data_dir / "storage" / "blobs").rglob("*"))
    assert [p for p in stored if p.is_file()] == []


def test_interrupted_chunked_upload_leaves_nothing_visible(server: Server) -> None:
    data = b"partial" * 1000
    with server.client() as c:
        loc = c.post("/v2/library/e/blobs/uploads/").headers["location"]
        c.patch(loc, content=data[:3000])
        assert c.head(f"/v2/library/e/blobs/{digest_bytes(data)}").status_code == 404
        assert c.delete(loc).status_code == 204
        assert c.get(loc).status_code == 404
        assert c.head(f"/v2/library/e/blobs/{digest_bytes(data[:3000])}").status_code == 404


def test_two_clients_pushing_the_same_blob_both_succeed_with_one_copy(server: Server) -> None:
    data = b"shared layer " * 200_000
    results: list[int] = []

    def push(repo: str) -> None:
        with server.client() as c:
            loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
            for i in range(0, len(data), 500_000):
                end = min(i + 500_000, len(data)) - 1
                c.patch(loc, content=data[i : end + 1], headers={"Content-Range": f"{i}-{end}"})
            results.append(c.put(loc, params={"digest": digest_bytes(data)}).status_code)

    threads = [threading.Thread(target=push, args=(f"library/p{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201, 201]
    files = [p for p in (server.data_dir / "storage" / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [hashlib.sha256(data).hexdigest()]


def test_cross_repository_mount(server: Server) -> None:
    with server.client() as c:
        d = _upload(c, "library/src", b"mount me")
        r = c.post("/v2/library/dst/blobs/uploads/", params={"mount": d, "from": "library/src"})
        assert r.status_code == 201
        assert c.get(f"/v2/library/dst/blobs/{d}").content == b"mount me"
        # not in the source: falls back to a new upload session
        missing = digest_bytes(b"nope")
        r = c.post(
            "/v2/library/dst/blobs/uploads/", params={"mount": missing, "from": "library/src"}
        )
        assert r.status_code == 202


def test_manifests_tags_and_content_negotiation(server: Server) -> None:
    with server.client() as c:
        body = _image(c, "library/m")
        r = _put(c, "library/m", "v1", body)
        assert r.status_code == 201
        digest = r.headers["Docker-Content-Digest"]
        assert digest == digest_bytes(body)
        got = c.get("/v2/library/m/manifests/v1", headers={"Accept": media.OCI_MANIFEST})
        assert got.content == body and got.headers["content-type"] == media.OCI_MANIFEST
        assert (
            c.head(f"/v2/library/m/manifests/{digest}").headers["docker-content-digest"] == digest
        )
        refused = c.get("/v2/library/m/manifests/v1", headers={"Accept": media.DOCKER_MANIFEST})
        assert refused.status_code == 404
        for tag in ["b", "a", "c", "B"]:
            assert _put(c, "library/m", tag, body).status_code == 201
        tags = c.get("/v2/library/m/tags/list").json()["tags"]
        assert tags == ["B", "a", "b", "c", "v1"]
        page = c.get("/v2/library/m/tags/list", params={"n": 2})
        assert page.json()["tags"] == ["B", "a"]
        assert page.headers["link"] == '</v2/library/m/tags/list?n=2&last=a>; rel="next"'
        rest = c.get("/v2/library/m/tags/list", params={"n": 10, "last": "b"})
        assert rest.json()["tags"] == ["c", "v1"] and "link" not in rest.headers
        cat = c.get("/v2/_catalog", params={"n": 1}).json()
        assert cat == {"repositories": ["library/m"]}
        # delete a tag, then the manifest by digest
        assert c.delete("/v2/library/m/manifests/a").status_code == 202
        assert c.delete(f"/v2/library/m/manifests/{digest}").status_code == 202
        assert c.get("/v2/library/m/tags/list").json()["tags"] == []
        assert _code(c.get(f"/v2/library/m/manifests/{digest}")) == "MANIFEST_UNKNOWN"


def test_index_needs_its_manifests_and_docker_list_is_served(server: Server) -> None:
    with server.client() as c:
        body = _image(c, "library/i")
        child = _put(c, "library/i", "amd64", body).headers["docker-content-digest"]
        index = {
            "schemaVersion": 2,
            "mediaType": media.DOCKER_MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": media.OCI_MANIFEST,
                    "digest": child,
                    "size": len(body),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
        raw = json.dumps(index).encode()
        assert _put(c, "library/i", "list", raw, media.DOCKER_MANIFEST_LIST).status_code == 201
        got = c.get("/v2/library/i/manifests/list", headers={"Accept": media.DOCKER_MANIFEST_LIST})
        assert got.headers["content-type"] == media.DOCKER_MANIFEST_LIST
        index["manifests"][0]["digest"] = str(digest_bytes(b"absent"))  # type: ignore[index]
        r = _put(c, "library/i", "bad", json.dumps(index).encode(), media.DOCKER_MANIFEST_LIST)
        assert r.status_code == 400 and _code(r) == "MANIFEST_BLOB_UNKNOWN"


def test_referrers_with_artifact_type_filter_and_subject_header(server: Server) -> None:
    with server.client() as c:
        body = _image(c, "library/r")
        subject = _put(c, "library/r", "v1", body).headers["docker-content-digest"]
        sbom = _image(
            c,
            "library/r",
            b"sbom",
            artifactType="application/spdx+json",
            subject={"mediaType": media.OCI_MANIFEST, "digest": subject, "size": len(body)},
            annotations={"k": "v"},
        )
        r = _put(c, "library/r", digest_bytes(sbom), sbom)
        assert r.status_code == 201 and r.headers["oci-subject"] == subject
        sig = _image(
            c,
            "library/r",
            b"sig",
            artifactType="application/vnd.dev.sig",
            subject={"mediaType": media.OCI_MANIFEST, "digest": subject, "size": len(body)},
        )
        _put(c, "library/r", digest_bytes(sig), sig)
        all_refs = c.get(f"/v2/library/r/referrers/{subject}").json()
        assert {m["artifactType"] for m in all_refs["manifests"]} == {
            "application/spdx+json",
            "application/vnd.dev.sig",
        }
        only = c.get(
            f"/v2/library/r/referrers/{subject}", params={"artifactType": "application/spdx+json"}
        )
        assert only.headers["oci-filters-applied"] == "artifactType"
        [m] = only.json()["manifests"]
        assert m["digest"] == digest_bytes(sbom) and m["annotations"] == {"k": "v"}
        none = c.get(f"/v2/library/r/referrers/{digest_bytes(b'x')}").json()
        assert none["manifests"] == []


def test_bad_manifests_digests_and_names_get_the_spec_codes(server: Server) -> None:
    with server.client() as c:
        r = _put(c, "library/x", "v1", b"{not json")
        assert r.status_code == 400 and _code(r) == "MANIFEST_INVALID"
        r = _put(
            c, "library/x", "v1", b'{"schemaVersion": 2, "mediaType": "text/plain"}', "text/plain"
        )
        assert _code(r) == "MANIFEST_INVALID"
        missing = _image(c, "library/x").replace(
            b'"layers": [',
            b'"layers": [{"mediaType": "x", "digest": "sha256:' + b"0" * 64 + b'", "size": 1}, ',
        )
        assert _code(_put(c, "library/x", "v1", missing)) == "MANIFEST_BLOB_UNKNOWN"
        huge = b'{"schemaVersion": 2, "pad": "' + b"a" * (5 << 20) + b'"}'
        r = _put(c, "library/x", "v1", huge)
        assert r.status_code == 413 and _code(r) == "SIZE_INVALID"
        body = _image(c, "library/x")
        r = _put(c, "library/x", str(digest_bytes(b"other")), body)
        assert r.status_code == 400 and _code(r) == "DIGEST_INVALID"
        assert _code(c.get("/v2/library/x/blobs/sha256:zz")) == "DIGEST_INVALID"
        r = c.post("/v2/library/x/blobs/uploads/", params={"digest": "md5:abc"}, content=b"a")
        assert _code(r) == "DIGEST_INVALID"
        for name in ["library/../etc", "Library/x", "library//x"]:
            # http.client sends the path as is (httpx would normalise the dots away)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", f"/v2/{name}/tags/list")
            resp = conn.getresponse()
            status, doc = resp.status, json.loads(resp.read())
            conn.close()
            assert status == 400 and doc["errors"][0]["code"] == "NAME_INVALID", name
        assert _code(c.get("/v2/library/nothing/tags/list")) == "NAME_UNKNOWN"
        # nothing stored earlier was damaged
        assert c.get("/v2/library/x/tags/list").json()["tags"] == []


def test_anonymous_push_gets_401_and_a_bearer_challenge(server: Server) -> None:
    with server.client(user=None) as c:
        r = c.post("/v2/library/anon/blobs/uploads/")
    assert r.status_code == 401 and _code(r) == "UNAUTHORIZED"
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer realm="{server.url}/token",service="imageforge-registry"')
    assert 'scope="repository:library/anon:pull,push"' in challenge


def test_mount_challenge_names_both_repositories(server: Server) -> None:
    with server.client(user=None) as c:
        r = c.post(
            "/v2/library/dst/blobs/uploads/",
            params={"mount": str(digest_bytes(b"m")), "from": "library/src"},
        )
    assert r.status_code == 401
    assert (
        'scope="repository:library/dst:pull,push repository:library/src:pull"'
        in r.headers["www-authenticate"]
    )


def test_token_flow_grants_only_what_the_user_may(server: Server) -> None:
    scope = "repository:library/t:pull,push"
    with server.client(user=None) as anon:
        tok = anon.get("/token", params={"service": "imageforge-registry", "scope": scope}).json()
        bearer = {"Authorization": f"Bearer {tok['token']}"}
        # anonymous gets pull on the public project, not push
        assert anon.post("/v2/library/t/blobs/uploads/", headers=bearer).status_code == 401
        assert anon.get("/token", params={"scope": scope}, auth=("admin", "bad")).status_code == 401
        tok = anon.get("/token", params={"scope": scope}, auth=("admin", server_password())).json()
        bearer = {"Authorization": f"Bearer {tok['token']}"}
        assert anon.post("/v2/library/t/blobs/uploads/", headers=bearer).status_code == 202
        other = anon.post("/v2/library/u/blobs/uploads/", headers=bearer)
        assert other.status_code == 401  # the token names library/t only
        forged = {"Authorization": f"Bearer {tok['token'][:-4]}AAAA"}
        assert anon.post("/v2/library/t/blobs/uploads/", headers=forged).status_code == 401


def server_password() -> str:
    from tests.registry.conftest import ADMIN_PASSWORD

    return ADMIN_PASSWORD


def test_private_project_refuses_anonymous_pull(tmp_path: Path, registry_db: str | None) -> None:
    config = """
[[users]]
name = "alice"
password_env = "ALICE_PW"

[[projects]]
name = "team"
public = false
members = { alice = "developer" }
"""
    srv = make_server(tmp_path / "reg", config, env={"ALICE_PW": "alice-pw"})
    srv.start()
    try:
        with srv.client("alice", "alice-pw") as alice:
            body = _image(alice, "team/app")
            assert _put(alice, "team/app", "v1", body).status_code == 201
            # alice is not a member of library: no push there
            denied = alice.post("/v2/library/x/blobs/uploads/")
            assert denied.status_code == 403 and _code(denied) == "DENIED"
        with srv.client(user=None) as anon:
            r = anon.get("/v2/team/app/manifests/v1")
            assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
        with srv.client("alice", "wrong") as bad:
            assert bad.get("/v2/team/app/manifests/v1").status_code == 401
    finally:
        srv.stop()


@pytest.mark.slow
def test_killed_server_restarts_and_serves_everything_pushed_before(
    tmp_path: Path, registry_db: str | None
) -> None:
    srv = make_server(tmp_path / "reg")
    srv.start()
    with srv.client() as c:
        body = _image(c, "library/k")
        assert _put(c, "library/k", "v1", body).status_code == 201
        loc = c.post("/v2/library/k/blobs/uploads/").headers["location"]
        partial = b"half a layer " * 200_000
        c.patch(loc, content=partial)
    assert srv.proc is not None
    srv.stop(signal.SIGKILL)
    srv.start()
    try:
        with srv.client() as c:
            assert c.get("/v2/library/k/manifests/v1").content == body
            assert c.get("/v2/library/k/tags/list").json()["tags"] == ["v1"]
            assert c.head(f"/v2/library/k/blobs/{digest_bytes(b'layer')}").status_code == 200
            # the interrupted upload resumes from what reached the disk, and completes
            end = int(c.get(loc).headers["range"].split("-")[1])
            offset = 0 if end == 0 else end + 1
            assert offset <= len(partial)
            rest = partial[offset:] + b" and the rest"
            last = offset + len(rest) - 1
            r = c.patch(loc, content=rest, headers={"Content-Range": f"{offset}-{last}"})
            assert r.status_code == 202
            whole = partial + b" and the rest"
            assert c.put(loc, params={"digest": digest_bytes(whole)}).status_code == 201
            assert c.get(f"/v2/library/k/blobs/{digest_bytes(whole)}").content == whole
    finally:
        srv.stop()
