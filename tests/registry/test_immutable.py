"""Immutable tag rules per project: a tag matching a rule never moves and is never
deleted; the refusal carries the distribution spec's DENIED code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.oci import digest_bytes
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


def test_bad_immutable_rules_in_the_config_are_refused(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    cfg = tmp_path / "registry.toml"
    cfg.write_text("[[projects]]\nname = 'x'\nimmutable_tags = 'v*'\n")
    r = run_cli(["registry", "serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg)])
    assert r.returncode == 2 and "immutable_tags is not a list of strings" in r.stderr
