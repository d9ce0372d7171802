"""A pushed manifest is read once, through ``oci.Manifest``/``oci.IndexManifest``: a
malformed one, however odd its structure, is refused with the spec's MANIFEST_INVALID
and leaves nothing behind."""

from __future__ import annotations

import json

import httpx
import pytest

from imageforge.oci import digest_bytes, media
from imageforge.registry import RegistryState
from imageforge.registry.service import ManifestInvalid, read_manifest
from tests.registry.conftest import ADMIN_PASSWORD, serving
from tests.registry.test_api import _code, _image, _put


def _twisted(good: bytes) -> list[tuple[bytes, str]]:
    doc = json.loads(good)
    layer = doc["layers"][0]
    return [
        (json.dumps({**doc, "layers": 5}).encode(), "layers: expected a list"),
        (json.dumps({**doc, "config": "x"}).encode(), "config: expected an object"),
        (json.dumps({**doc, "annotations": ["a"]}).encode(), "annotations: expected an object"),
        (json.dumps({**doc, "artifactType": {}}).encode(), "artifactType: expected a string"),
        (json.dumps({**doc, "layers": [{**layer, "digest": 1}]}).encode(), "layers[0].digest"),
        (json.dumps({**doc, "layers": [{**layer, "size": -1}]}).encode(), "layers[0].size"),
        (json.dumps({**doc, "layers": [{**layer, "urls": 1}]}).encode(), "layers[0].urls"),
        (json.dumps({**doc, "schemaVersion": 1}).encode(), "schemaVersion must be 2"),
        (b"[]", "not a JSON object"),
        (b"\xff\xfe", "not valid JSON"),
    ]


def test_malformed_manifests_are_refused_and_leave_nothing(opened: RegistryState) -> None:
    with (
        serving(opened) as url,
        httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30) as c,
    ):
        good = _image(c, "library/odd")
        for body, why in _twisted(good):
            r = _put(c, "library/odd", "v1", body)
            assert (r.status_code, _code(r)) == (400, "MANIFEST_INVALID"), (body, r.text)
            assert why in r.json()["errors"][0]["message"], r.text
        assert c.get("/v2/library/odd/tags/list").json()["tags"] == []
        assert _put(c, "library/odd", "v1", good).status_code == 201


def test_the_reader_takes_the_type_from_the_body_then_the_content_type() -> None:
    index = b'{"schemaVersion": 2, "manifests": []}'
    assert read_manifest(index)[0] == media.OCI_INDEX
    assert read_manifest(index, media.DOCKER_MANIFEST_LIST)[0] == media.DOCKER_MANIFEST_LIST
    typed = b'{"schemaVersion": 2, "mediaType": "%s", "manifests": []}' % media.OCI_INDEX.encode()
    with pytest.raises(ManifestInvalid, match="differs from mediaType"):
        read_manifest(typed, media.OCI_MANIFEST)
    assert read_manifest(typed, "application/octet-stream")[0] == media.OCI_INDEX
    with pytest.raises(ManifestInvalid, match="unsupported manifest media type 'text/plain'"):
        read_manifest(b'{"schemaVersion": 2}', "text/plain")
    assert digest_bytes(index)  # the bytes, not a re-serialisation, are what is stored


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [500, 200_000])
def test_a_deeply_nested_manifest_is_refused_not_a_crash(opened: RegistryState, depth: int) -> None:
    """Found by fuzzing: a manifest PUT whose body nests arrays deeper than Python's
    parser can go (200000) was a 500 (RecursionError). It is a 400 MANIFEST_INVALID
    saying why, as is any nesting past 64 (500), refused before anything reads it;
    nothing is stored, the server serves on."""
    body = b'{"schemaVersion": 2, "config": {}, "layers": ' + _nested(depth) + b"}"
    assert len(body) < opened.max_manifest_bytes  # refused for its shape, not its size
    with (
        serving(opened) as url,
        httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30) as c,
    ):
        good = _image(c, "library/deep")
        r = _put(c, "library/deep", "v1", body)
        assert (r.status_code, _code(r)) == (400, "MANIFEST_INVALID"), r.text
        assert "nested more than 64 deep" in r.json()["errors"][0]["message"], r.text
        assert c.get("/v2/library/deep/tags/list").json()["tags"] == []
        assert _put(c, "library/deep", "v1", good).status_code == 201


def test_a_deeply_nested_management_body_is_refused_not_a_crash(opened: RegistryState) -> None:
    """The management API reads its JSON bodies through the same reader (the deeper
    body was a 500, the parser's RecursionError)."""
    with (
        serving(opened) as url,
        httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30) as c,
    ):
        for depth in (500, 200_000):
            body = b'{"name": "deep", "immutable_tags": ' + _nested(depth) + b"}"
            r = c.post("/api/v1/projects", content=body)
            assert r.status_code == 400, r.text
            assert r.json()["errors"][0]["code"] == "INVALID"
            assert "body: objects and arrays nested more than 64 deep" in r.text
        assert c.get("/api/v1/projects/deep").status_code == 404
        assert c.post("/api/v1/projects", json={"name": "deep"}).status_code == 201
