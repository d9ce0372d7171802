from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.layers import Entry, EntryType, write_layer
from imageforge.oci import Descriptor, Digest, History, Image, ImageConfig, media
from imageforge.oci.mutate import Addendum, append_layers, empty_image, set_config, set_created
from imageforge.oci.validate import validate_image
from imageforge.transports import BlobLayer


def _layer(files: dict[str, bytes], blobs: dict[Digest, bytes]) -> BlobLayer:
    out = io.BytesIO()
    entries = [(Entry(name, EntryType.FILE, size=len(data)), data) for name, data in files.items()]
    info = write_layer(entries, out, mtime_clamp=0)
    blobs[info.digest] = out.getvalue()
    opener: Callable[[Digest], io.BytesIO] = lambda d: io.BytesIO(blobs[d])  # noqa: E731
    return BlobLayer(Descriptor(info.media_type, info.digest, info.size), info.diff_id, opener)


def test_empty_image_is_valid_and_stable() -> None:
    a, b = empty_image(), empty_image()
    assert a.digest == b.digest
    assert a.manifest().layers == ()
    assert a.config().diff_ids == ()
    validate_image(a)


def test_append_layers_records_diff_ids_and_history() -> None:
    blobs: dict[Digest, bytes] = {}
    l1 = _layer({"etc/a": b"a"}, blobs)
    l2 = _layer({"etc/b": b"bb"}, blobs)
    img = append_layers(empty_image(), Addendum(l1, History(created_by="COPY a /etc/a")))
    img = append_layers(img, Addendum(l2, History(created_by="COPY b /etc/b")))
    assert img.config().diff_ids == (l1.diff_id, l2.diff_id)
    assert [h.created_by for h in img.config().history] == ["COPY a /etc/a", "COPY b /etc/b"]
    assert [d.digest for d in img.manifest().layers] == [l1.digest, l2.digest]
    assert img.manifest().layers[0].media_type == media.OCI_LAYER_GZIP
    assert img.manifest().config.size == len(img.raw_config())
    validate_image(img)


def test_set_created_is_deterministic() -> None:
    blobs: dict[Digest, bytes] = {}
    base = append_layers(
        empty_image(), Addendum(_layer({"x": b"1"}, blobs), History(created_by="x"))
    )
    a = set_created(base, "2000-01-01T00:00:00Z")
    b = set_created(base, "2000-01-01T00:00:00Z")
    c = set_created(base, "2001-01-01T00:00:00Z")
    assert a.digest == b.digest != c.digest
    assert a.config().created == "2000-01-01T00:00:00Z"
    assert all(h.created == "2000-01-01T00:00:00Z" for h in a.config().history)


def test_validate_catches_a_corrupt_layer() -> None:
    blobs: dict[Digest, bytes] = {}
    layer = _layer({"f": b"content" * 100}, blobs)
    img = append_layers(empty_image(), Addendum(layer))
    raw = bytearray(blobs[layer.digest])
    raw[20] ^= 0xFF
    blobs[layer.digest] = bytes(raw)
    with pytest.raises(DigestMismatch):
        validate_image(img)


def test_validate_catches_a_diff_id_lie() -> None:
    blobs: dict[Digest, bytes] = {}
    layer = _layer({"f": b"x"}, blobs)
    other = _layer({"g": b"y"}, blobs)
    liar = BlobLayer(
        Descriptor(layer.media_type, layer.digest, layer.size),
        other.diff_id,
        lambda d: io.BytesIO(blobs[d]),
    )
    img = append_layers(empty_image(), Addendum(liar))
    with pytest.raises(DigestMismatch, match="diff_id"):
        validate_image(img)


def test_set_config_with_wrong_layer_count_is_refused() -> None:
    blobs: dict[Digest, bytes] = {}
    img: Image = append_layers(empty_image(), Addendum(_layer({"f": b"x"}, blobs)))
    bad = set_config(
        img, ImageConfig(dict(img.config().data, rootfs={"type": "layers", "diff_ids": []}))
    )
    with pytest.raises(InvalidArgument, match="1 layers but its config lists 0"):
        validate_image(bad)
