from __future__ import annotations

import json

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import (
    Descriptor,
    ImageConfig,
    IndexManifest,
    Manifest,
    canonical_json,
    digest_bytes,
    media,
    parse_any,
)

CONFIG = canonical_json(
    {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [str(digest_bytes(b"tar"))]},
        "history": [{"created_by": "COPY . /"}],
        "config": {"Env": ["PATH=/bin"]},
    }
)


def _manifest(**over: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {
            "mediaType": media.OCI_CONFIG,
            "digest": str(digest_bytes(CONFIG)),
            "size": len(CONFIG),
        },
        "layers": [
            {"mediaType": media.OCI_LAYER_GZIP, "digest": str(digest_bytes(b"gz")), "size": 2}
        ],
    }
    doc.update(over)
    return doc


def test_manifest_round_trip_keeps_bytes() -> None:
    raw = canonical_json(_manifest(annotations={"a": "b"}))
    m = Manifest.parse(raw)
    assert m.to_bytes() == raw
    assert m.layers[0].media_type == media.OCI_LAYER_GZIP
    assert m.annotations == {"a": "b"}


def test_schema_error_names_the_field() -> None:
    doc = _manifest()
    doc["layers"] = [{"mediaType": media.OCI_LAYER, "digest": "sha256:nothex", "size": 1}]
    with pytest.raises(InvalidArgument, match=r"layers\[0\]\.digest"):
        Manifest.parse(json.dumps(doc).encode())


def test_missing_config_is_named() -> None:
    doc = _manifest()
    del doc["config"]
    with pytest.raises(InvalidArgument, match="'config' is a required property"):
        Manifest.parse(json.dumps(doc).encode())


def test_not_json_and_schema1() -> None:
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        Manifest.parse(b"{nope")
    with pytest.raises(InvalidArgument, match="schema 1"):
        Manifest.parse(b'{"schemaVersion": 1, "name": "x"}')


def test_index_and_parse_any() -> None:
    child = Descriptor(media.OCI_MANIFEST, digest_bytes(b"m"), 1)
    raw = IndexManifest((child,)).to_bytes()
    parsed = parse_any(raw)
    assert isinstance(parsed, IndexManifest) and parsed.manifests == (child,)
    assert isinstance(parse_any(canonical_json(_manifest())), Manifest)
    docker = canonical_json(_manifest(mediaType=media.DOCKER_MANIFEST))
    assert parse_any(docker).media_type == media.DOCKER_MANIFEST


def test_config_views() -> None:
    cfg = ImageConfig.parse(CONFIG)
    assert cfg.diff_ids == (digest_bytes(b"tar"),)
    assert cfg.history[0].created_by == "COPY . /"
    assert cfg.config["Env"] == ["PATH=/bin"]
    assert str(cfg.platform) == "linux/amd64"
    assert cfg.to_bytes() == CONFIG


def test_config_bad_diff_id_is_named() -> None:
    raw = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["x"]}}
    ).encode()
    with pytest.raises(InvalidArgument, match=r"rootfs\.diff_ids\[0\]"):
        ImageConfig.parse(raw)
