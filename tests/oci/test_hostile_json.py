"""Hostile manifest, index and config JSON found while writing their fuzz harness
(fuzz/fuzz_manifest.py), by hand-made probes: each used to escape as RecursionError,
ValueError or UnicodeEncodeError (exit 70) from the store, import or a pull; now each
is an InvalidArgument naming the document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import Descriptor, ImageConfig, IndexManifest, Manifest, load_json, parse_any
from imageforge.oci._manifest import MAX_JSON_DEPTH
from tests.conftest import run_cli

_DIGEST = "sha256:" + "a" * 64
_CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": []},
}


def _manifest(**extra: object) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _DIGEST,
            "size": 2,
        },
        "layers": [],
        **extra,
    }


def _nested(depth: int) -> object:
    """``depth - 1`` objects one in another: with the document around them, ``depth``."""
    value: object = "x"
    for _ in range(depth - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schemaVersion":2,"layers":[],"config":' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
    ],
)
def test_a_document_nested_past_the_stack_is_refused(raw: bytes) -> None:
    for parse in (parse_any, Manifest.parse, IndexManifest.parse, ImageConfig.parse):
        with pytest.raises(InvalidArgument, match=f"nested more than {MAX_JSON_DEPTH} deep"):
            parse(raw)


def test_nesting_up_to_the_limit_is_read_and_one_more_is_refused() -> None:
    ok = json.dumps({**_CONFIG, "x-vendor": _nested(MAX_JSON_DEPTH)}).encode()
    assert ImageConfig.parse(ok).to_bytes()
    deeper = json.dumps({**_CONFIG, "x-vendor": _nested(MAX_JSON_DEPTH + 1)}).encode()
    with pytest.raises(InvalidArgument, match="nested more than"):
        ImageConfig.parse(deeper)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"schemaVersion":' + b"9" * 5000 + b"}", "an integer of 5000 digits"),
        (json.dumps({**_CONFIG, "x": 1}).replace("1}", "NaN}").encode(), "NaN is not a JSON"),
        (b'{"os":"linux","architecture":"amd64","x":-Infinity}', "-Infinity is not a JSON"),
        (json.dumps(_CONFIG).encode("utf-16"), "'utf-8' codec can't decode"),
    ],
)
def test_json_that_go_s_decoder_refuses_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        load_json(raw, "config")
    with pytest.raises(InvalidArgument, match=f"config is not valid JSON: {message}"):
        ImageConfig.parse(raw)


def test_a_lone_surrogate_escape_is_refused_and_a_pair_is_read() -> None:
    lone = json.dumps({**_CONFIG, "author": "\\ud800x"}).replace("\\\\", "\\").encode()
    with pytest.raises(InvalidArgument, match="lone UTF-16 surrogate"):
        ImageConfig.parse(lone)
    with pytest.raises(InvalidArgument, match="lone UTF-16 surrogate"):
        Manifest.parse(json.dumps(_manifest()).encode()[:-1] + b',"annotations":{"a":"\\udfff"}}')
    pair = json.dumps({**_CONFIG, "author": "\U0001f433"}).encode()  # ensure_ascii: a pair
    assert b"\\ud83d\\udc33" in pair
    config = ImageConfig.parse(pair)
    assert config.data["author"] == "\U0001f433"
    assert config.to_bytes()  # what failed before: writing the document back


def test_importing_a_layout_with_a_hostile_index_exits_2_not_70(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_bytes(b'{"schemaVersion":2,"manifests":' + b"[" * 50_000)
    proc = run_cli(["--root", str(tmp_path / "root"), "import", f"oci:{layout}", "-t", "x:1"])
    assert proc.returncode == 2, proc.stderr
    assert "nested more than" in proc.stderr or "not valid JSON" in proc.stderr
    assert "internal error" not in proc.stderr


@pytest.mark.parametrize("value", ["{}", "[]", "1", "true"])
def test_a_media_type_that_is_not_a_string_is_refused(value: str) -> None:
    # Found by the fuzzer (fuzz/fuzz_manifest.py, 101513 executions in): a mediaType
    # object made parse_any look it up in a set, TypeError: unhashable type: 'dict'.
    raw = f'{{"schemaVersion":2,"mediaType":{value}}}'.encode()
    with pytest.raises(InvalidArgument, match="manifest.mediaType: expected a string, got"):
        parse_any(raw)


@pytest.mark.parametrize("size", [2**63, 10**30])
def test_a_size_past_int64_is_refused_and_the_largest_int64_is_read(size: int) -> None:
    # #33 item 6: a layer size of 10**30 was accepted, after which skopeo could not pull
    # the tag; Go decodes a descriptor's size into an int64. (The OCI schema's maximum,
    # a float, lets 2**63 through.)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _DIGEST}
    assert Descriptor.from_json({**layer, "size": 2**63 - 1}).size == 2**63 - 1
    with pytest.raises(InvalidArgument, match=rf"^layer.size: {size} is larger than 2\*\*63-1"):
        Descriptor.from_json({**layer, "size": size}, "layer")
    largest = json.dumps(_manifest(layers=[{**layer, "size": 2**63 - 1}])).encode()
    assert Manifest.parse(largest).layers[0].size == 2**63 - 1
    for raw in (
        json.dumps(_manifest(layers=[{**layer, "size": size}])).encode(),
        json.dumps({"schemaVersion": 2, "manifests": [{**layer, "size": size}]}).encode(),
    ):
        with pytest.raises(InvalidArgument, match=r"\.size: "):
            parse_any(raw)
