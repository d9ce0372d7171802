"""write_image: an image held in memory (a build result) written to the store and to a
layout that skopeo reads."""

from __future__ import annotations

import io
import json
from pathlib import Path

from imageforge.layers import BlobLayer, Entry, EntryType, write_layer
from imageforge.oci import Descriptor, History, Image, mutate
from imageforge.store import Store
from imageforge.transports import open_source, write_image
from tests.conftest import need_binary
from tests.transports.conftest import run


def _built(store: Store) -> Image:
    buf = io.BytesIO()
    data = b"built\n"
    info = write_layer([(Entry("hello", EntryType.FILE, size=len(data)), io.BytesIO(data))], buf)
    store.blobs.write_blob(buf.getvalue(), info.digest)
    layer = BlobLayer(
        Descriptor(info.media_type, info.digest, info.size), info.diff_id, store.blobs.open
    )
    image = mutate.append_layers(
        mutate.empty_image(), mutate.Addendum(layer, History(created_by="COPY hello /"))
    )
    return image


def test_a_built_image_is_named_in_the_store_and_reads_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    image = _built(store)
    result = write_image(image, "built:1", store)
    assert result.digest == image.digest
    with open_source("built:1", store) as back:
        assert back.digest == image.digest
        assert isinstance(back, Image)
        assert json.loads(back.raw_config())["history"][0]["created_by"] == "COPY hello /"


def test_a_built_image_written_as_oci_layout_passes_skopeo(tmp_path: Path) -> None:
    skopeo = need_binary("skopeo")
    store = Store(tmp_path / "root")
    image = _built(store)
    write_image(image, f"oci:{tmp_path / 'out'}:v1", store)
    out = json.loads(run(skopeo, "inspect", f"oci:{tmp_path / 'out'}:v1"))
    assert out["Digest"] == str(image.digest)
    assert len(out["Layers"]) == 1
