"""What ``images`` lists for an index: itself and what the store holds below it."""

from __future__ import annotations

from pathlib import Path

from imageforge.oci import Descriptor, IndexManifest, Manifest, canonical_json, digest_bytes, media
from imageforge.store import Store, summarize


def _image(store: Store, arch: str, created: str) -> tuple[Descriptor, int]:
    """A stored image for ``arch``: its descriptor and its size as stored."""
    layer = f"layer-{arch}".encode()
    config = canonical_json(
        {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "rootfs": {"type": "layers", "diff_ids": [str(digest_bytes(layer))]},
        }
    )
    store.blobs.write_blob(layer)
    store.blobs.write_blob(config)
    raw = Manifest(
        Descriptor(media.OCI_CONFIG, digest_bytes(config), len(config)),
        (Descriptor(media.OCI_LAYER, digest_bytes(layer), len(layer)),),
    ).to_bytes()
    store.blobs.write_blob(raw)
    desc = Descriptor(media.OCI_MANIFEST, digest_bytes(raw), len(raw))
    return desc, len(raw) + len(config) + len(layer)


def _index(store: Store, *children: Descriptor) -> tuple[Descriptor, int]:
    raw = IndexManifest(children).to_bytes()
    store.blobs.write_blob(raw)
    return Descriptor(media.OCI_INDEX, digest_bytes(raw), len(raw)), len(raw)


def test_an_index_adds_up_what_the_store_holds_below_it_each_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    amd, amd_size = _image(store, "amd64", "2024-01-01T00:00:00Z")
    arm, arm_size = _image(store, "arm64", "2024-03-01T00:00:00Z")
    s390x, _ = _image(store, "s390x", "2025-01-01T00:00:00Z")
    store.blobs.delete(s390x.digest)  # a child not pulled
    nested, nested_size = _index(store, arm, s390x)
    top, top_size = _index(store, amd, nested, amd)  # amd named twice
    store.refs.set("multi:1", top.digest, media.OCI_INDEX)

    summary = summarize(store, store.refs.get("multi:1"))

    assert summary.platforms == ("linux/amd64", "linux/arm64")
    assert summary.size == top_size + amd_size + nested_size + arm_size
    assert summary.created == "2024-03-01T00:00:00Z"  # the newest held, not the missing one
    assert summary.image_id == top.digest and summary.media_type == media.OCI_INDEX
