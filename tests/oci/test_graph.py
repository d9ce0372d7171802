"""The one walk over the image graph."""

from __future__ import annotations

import io
import json

import pytest

from imageforge.errors import InvalidArgument
from imageforge.layers import BlobIndex
from imageforge.oci import Digest, digest_bytes, media, walk_graph, walk_image_graph


class _Blobs(dict[Digest, bytes]):
    def put(self, doc: dict[str, object]) -> dict[str, object]:
        raw = json.dumps(doc).encode()
        self[digest_bytes(raw)] = raw
        return {"mediaType": doc["mediaType"], "digest": str(digest_bytes(raw)), "size": len(raw)}

    def open(self, digest: Digest) -> io.BytesIO:
        return io.BytesIO(self[digest])


def _image(blobs: _Blobs, arch: str) -> dict[str, object]:
    config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers"}})
    blobs[digest_bytes(config.encode())] = config.encode()
    return blobs.put(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": {
                "mediaType": media.OCI_CONFIG,
                "digest": str(digest_bytes(config.encode())),
                "size": len(config),
            },
            "layers": [],
        }
    )


def _index(blobs: _Blobs, *children: dict[str, object]) -> dict[str, object]:
    return blobs.put({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": children})


def test_children_first_each_node_once() -> None:
    blobs = _Blobs()
    amd, arm = _image(blobs, "amd64"), _image(blobs, "arm64")
    nested = _index(blobs, amd, arm)
    top_desc = _index(blobs, amd, nested, arm)
    top = BlobIndex(blobs.open, blobs[Digest(str(top_desc["digest"]))])
    order = [str(node.digest) for node in walk_image_graph(top)]
    assert order == [amd["digest"], arm["digest"], nested["digest"], top_desc["digest"]]


def test_a_child_neither_image_nor_index_is_refused_by_name() -> None:
    blobs = _Blobs()
    odd = blobs.put({"mediaType": "application/vnd.example.thing+json"})
    top_desc = _index(blobs, _image(blobs, "amd64"), odd)
    top = BlobIndex(blobs.open, blobs[Digest(str(top_desc["digest"]))], validate=False)
    with pytest.raises(InvalidArgument, match=f"child {odd['digest']} has media type"):
        list(walk_image_graph(top))


def test_deep_nesting_is_not_bounded_by_recursion() -> None:
    depth = 20_000
    order = list(walk_graph([0], lambda n: [n + 1] if n < depth else []))
    assert order == list(range(depth, -1, -1))
