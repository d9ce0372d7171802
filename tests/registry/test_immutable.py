"""Immutable tag rules per project: a tag matching a rule never moves and is never
deleted; the refusal carries the distribution spec's DENIED code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.oci import digest_bytes, media
from tests.registry.conftest import Server, make_server
from tests.registry.test_api import _image, _put

CONFIG = """
[[projects]]
name = "rel"
immutable_tags = ["v*", "release-?"]
"""


@pytest.fixture
def rel(tmp_path: Path, registry_db: str | None) -> Iterator[Server]:
    srv = make_server(tmp_path / "registry", CONFIG)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _err(r: httpx.Response) -> tuple[int, str, str]:
    e = r.json()["errors"][0]
    return r.status_code, str(e["code"]), str(e["message"])


def test_pushing_over_an_immutable_tag_is_refused(rel: Server) -> None:
    with rel.client() as c:
        first = _image(c, "rel/app", b"one")
        second = _image(c, "rel/app", b"two")
        assert _put(c, "rel/app", "v1", first).status_code == 201
        assert _put(c, "rel/app", "v1", first).status_code == 201  # same content: no change
        status, code, message = _err(_put(c, "rel/app", "v1", second))
        assert (status, code) == (403, "DENIED") and "rel/app:v1 is immutable" in message
        got = c.get("/v2/rel/app/manifests/v1")
        assert got.headers["docker-content-digest"] == str(digest_bytes(first))
        # release-? matches release-1, not release-10; other tags move freely
        assert _put(c, "rel/app", "release-1", first).status_code == 201
        assert _put(c, "rel/app", "release-1", second).status_code == 403
        assert _put(c, "rel/app", "release-10", first).status_code == 201
        assert _put(c, "rel/app", "release-10", second).status_code == 201
        assert _put(c, "rel/app", "latest", first).status_code == 201
        assert _put(c, "rel/app", "latest", second).status_code == 201
        # neither the tag nor the manifest behind it can be deleted
        assert _err(c.delete("/v2/rel/app/manifests/v1"))[:2] == (403, "DENIED")
        d = str(digest_bytes(first))
        assert c.delete(f"/v2/rel/app/manifests/{d}").status_code == 403
        assert c.get("/v2/rel/app/manifests/v1").status_code == 200
        # the same tag in a project without rules moves
        assert _put(c, "library/app", "v1", _image(c, "library/app", b"one")).status_code == 201
        assert _put(c, "library/app", "v1", _image(c, "library/app", b"two")).status_code == 201
    refused = rel.meta().audit(result="refused", repo="rel/app")
    assert {(a.action, a.ref) for a in refused} == {
        ("push", "v1"),
        ("push", "release-1"),
        ("delete", "v1"),
        ("delete", d),
    }


def test_rules_set_through_the_api_apply_at_once(rel: Server) -> None:
    with rel.client() as c:
        r = c.post("/api/v1/projects", json={"name": "web", "immutable_tags": ["stable"]})
        assert r.status_code == 201
        assert _put(c, "web/site", "stable", _image(c, "web/site", b"a")).status_code == 201
        assert _put(c, "web/site", "stable", _image(c, "web/site", b"b")).status_code == 403
        assert c.get("/api/v1/projects/rel").json()["immutable_tags"] == ["release-?", "v*"]


def _index(c: httpx.Client, repo: str, *layers: bytes) -> tuple[bytes, list[str]]:
    """An index of one image per layer (pushed by digest); its body and the children."""
    children, entries = [], []
    for layer in layers:
        body = _image(c, repo, layer)
        r = _put(c, repo, str(digest_bytes(body)), body)
        assert r.status_code == 201, r.text
        children.append(str(digest_bytes(body)))
        entries.append({"mediaType": media.OCI_MANIFEST, "digest": children[-1], "size": len(body)})
    index = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": entries}
    return json.dumps(index).encode(), children


def test_a_maintainer_cannot_delete_what_an_immutable_tag_needs(rel: Server) -> None:
    """Finding 13 of issue 19: the blobs and index children behind an immutable tag were
    deletable one by one, leaving the tag broken."""
    with rel.client() as admin:
        assert (
            admin.post("/api/v1/users", json={"name": "maya", "password": "m-password"}).status_code
            == 201
        )
        r = admin.put("/api/v1/projects/rel/members/maya", json={"role": "maintainer"})
        assert r.status_code == 200
    with rel.client("maya", "m-password") as maya:
        image = _image(maya, "rel/app", b"released layer")
        assert _put(maya, "rel/app", "v1", image).status_code == 201
        index, children = _index(maya, "rel/app", b"amd64 layer", b"arm64 layer")
        assert _put(maya, "rel/app", "v2", index, media.OCI_INDEX).status_code == 201
        doc = json.loads(image)
        layer, config = doc["layers"][0]["digest"], doc["config"]["digest"]
        arm_layer = str(digest_bytes(b"arm64 layer"))
        for blob in (layer, config, arm_layer):
            status, code, message = _err(maya.delete(f"/v2/rel/app/blobs/{blob}"))
            assert (status, code) == (403, "DENIED")
            assert f"blob {blob} is needed by immutable tag rel/app:v" in message
        status, code, message = _err(maya.delete(f"/v2/rel/app/manifests/{children[1]}"))
        assert (status, code) == (403, "DENIED")
        assert message == f"manifest {children[1]} is in the index immutable tag rel/app:v2 names"
        # all of both images is still there
        assert maya.get(f"/v2/rel/app/blobs/{layer}").status_code == 200
        assert maya.get(f"/v2/rel/app/blobs/{arm_layer}").status_code == 200
        assert maya.get(f"/v2/rel/app/manifests/{children[1]}").status_code == 200
        # what no immutable tag needs can still go
        loose = _image(maya, "rel/app", b"a mutable layer")
        assert _put(maya, "rel/app", "latest", loose).status_code == 201
        mutable_layer = json.loads(loose)["layers"][0]["digest"]
        assert maya.delete(f"/v2/rel/app/blobs/{mutable_layer}").status_code == 202
        other, other_children = _index(maya, "rel/app", b"x layer", b"y layer")
        assert _put(maya, "rel/app", "nightly", other, media.OCI_INDEX).status_code == 201
        assert maya.delete(f"/v2/rel/app/manifests/{other_children[0]}").status_code == 202


def test_bad_immutable_rules_in_the_config_are_refused(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    cfg = tmp_path / "registry.toml"
    cfg.write_text("[[projects]]\nname = 'x'\nimmutable_tags = 'v*'\n")
    r = run_cli(["registry", "serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg)])
    assert r.returncode == 2 and "immutable_tags is not a list of strings" in r.stderr
