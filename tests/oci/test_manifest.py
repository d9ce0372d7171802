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
    with pytest.raises(InvalidArgument, match='"config" is a required property'):
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


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"layers": 5}, r"manifest\.layers: expected a list"),
        ({"config": None}, r"manifest\.config: expected an object"),
        ({"annotations": "x"}, r"manifest\.annotations: expected an object"),
        ({"artifactType": 7}, r"manifest\.artifactType: expected a string"),
        ({"mediaType": ["x"]}, r"manifest\.mediaType: expected a string"),
        ({"layers": [{"mediaType": "x", "digest": 5, "size": 1}]}, r"layers\[0\]\.digest"),
        (
            {
                "layers": [
                    {"mediaType": "x", "digest": str(digest_bytes(b"l")), "size": 1, "urls": 3}
                ]
            },
            r"layers\[0\]\.urls",
        ),
    ],
)
def test_unvalidated_parse_still_refuses_a_hostile_structure(
    change: dict[str, object], field: str
) -> None:
    """Without the schema check (a registry reads pushed manifests so, for speed and
    leniency about media types) a malformed document is still an InvalidArgument naming
    the field, never a crash."""
    raw = json.dumps(_manifest(**change)).encode()
    with pytest.raises(InvalidArgument, match=field):
        Manifest.parse(raw, validate=False)


def test_unvalidated_index_parse_refuses_a_hostile_structure() -> None:
    with pytest.raises(InvalidArgument, match=r"index\.manifests: expected a list"):
        IndexManifest.parse(b'{"schemaVersion": 2, "manifests": {"a": 1}}', validate=False)
    odd = {"mediaType": media.OCI_MANIFEST, "digest": str(digest_bytes(b"m")), "size": 1}
    odd["platform"] = {"os": "linux", "architecture": "amd64", "os.features": 5}
    parsed = IndexManifest.parse(json.dumps({"manifests": [odd]}).encode(), validate=False)
    assert parsed.manifests[0].platform is not None
    assert parsed.manifests[0].platform.os_features == ()
