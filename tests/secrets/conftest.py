"""Images assembled in memory, layer by layer with their history steps, config and
annotations (no builder, no root), and a directory of planted secrets."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from imageforge.layers import Entry, EntryType, whiteout_entry, write_layer
from imageforge.oci import Descriptor, Digest, History, Image
from imageforge.oci.mutate import Addendum, MutatedImage, append_layers, empty_image
from imageforge.transports import BlobLayer
from tests.secrets.corpus import Sample, files, samples

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "report" / "data" / "sarif-schema-2.1.0.json"

# path -> content, None (a directory), "whiteout" (deleted), ("mode", 0o4755, bytes)
Spec = Mapping[str, Any]


def layer_entries(spec: Spec) -> list[tuple[Entry, bytes | None]]:
    out: list[tuple[Entry, bytes | None]] = []
    for path, value in spec.items():
        if value is None:
            out.append((Entry(path, EntryType.DIR, mode=0o755), None))
        elif value == "whiteout":
            out.append((whiteout_entry(path), None))
        elif isinstance(value, tuple) and value[0] == "mode":
            data = value[2]
            out.append((Entry(path, EntryType.FILE, mode=value[1], size=len(data)), data))
        elif isinstance(value, tuple) and value[0] == "dirmode":
            out.append((Entry(path, EntryType.DIR, mode=value[1]), None))
        elif isinstance(value, tuple) and value[0] == "symlink":
            out.append((Entry(path, EntryType.SYMLINK, linkname=value[1]), None))
        else:
            out.append((Entry(path, EntryType.FILE, size=len(value)), value))
    return out


def make_image(
    layers: Sequence[tuple[str, Spec | list[tuple[Entry, bytes | None]]]],
    *,
    config: Mapping[str, Any] | None = None,
    history: Sequence[History] = (),
    annotations: Mapping[str, str] | None = None,
    blobs: dict[Digest, bytes] | None = None,
) -> Image:
    """An image of ``layers`` ((created_by, spec) bottom first, gzip), the runtime
    ``config`` (Env, User, ...), extra empty-layer ``history`` steps after them and
    manifest ``annotations``; blobs are kept in ``blobs`` (to damage one in a test)."""
    store: dict[Digest, bytes] = {} if blobs is None else blobs
    image = empty_image()
    for created_by, spec in layers:
        entries = spec if isinstance(spec, list) else layer_entries(spec)
        out = io.BytesIO()
        info = write_layer(entries, out, compression="gzip", mtime_clamp=0)
        store[info.digest] = out.getvalue()
        layer = BlobLayer(
            Descriptor(info.media_type, info.digest, info.size),
            info.diff_id,
            lambda d: io.BytesIO(store[d]),
        )
        image = append_layers(image, Addendum(layer, History(created_by=created_by)))
    data = json.loads(image.raw_config())
    data["config"] = dict(config or {})
    data["history"] = data["history"] + [h.to_json() for h in history]
    return MutatedImage(
        data,
        image.layers(),
        media_type=image.media_type,
        annotations=dict(annotations or {}),
    )


@pytest.fixture(scope="session")
def planted() -> list[Sample]:
    return samples()


@pytest.fixture
def planted_dir(tmp_path: Path, planted: list[Sample]) -> Path:
    root = tmp_path / "rootfs"
    for path, content in files(planted).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


@pytest.fixture(scope="session")
def sarif_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return data
