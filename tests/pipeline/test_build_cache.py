"""The build cache as an OCI layout, written and read through the transports: what an
export holds, an import into an empty store, and a hostile ``--cache-from`` refused
(a blob that is a link to /dev/zero or a fifo, a blob longer than its descriptor, a
step key or mount name that names a path outside the store)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from imageforge.builder import BuildCache, CacheRecord
from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.oci import Digest
from imageforge.pipeline import (
    CACHE_ARTIFACT,
    export_build_cache,
    import_build_cache,
)
from imageforge.store import Store
from imageforge.transports import copy
from tests.conftest import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = "a" * 64
EMPTY_KEY = "b" * 64


def _records(store: Store) -> dict[str, CacheRecord]:
    """One record with a real layer (the hello example's), one for a step without."""
    with store.writing():
        copy(f"rootfs:{EXAMPLES / 'hello-rootfs'}", "hello:1", store)
    digest = store.refs.get("docker.io/library/hello:1").digest
    _, manifest = store.read_manifest(digest)
    layer = manifest.layers[0]  # type: ignore[union-attr]
    with store.blobs.open(manifest.config.digest) as f:  # type: ignore[union-attr]
        config = json.loads(f.read())
    return {KEY: (layer, Digest(config["rootfs"]["diff_ids"][0])), EMPTY_KEY: (None, None)}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, CacheRecord]]:
    """A cache exported from a store with one layer record and one cache mount."""
    store = Store(tmp_path / "src")
    records = _records(store)
    mount = store.root / "cache-mounts" / ("c" * 32)
    mount.mkdir(parents=True)
    (mount / "state").write_text("warm\n")
    layout = tmp_path / "cache"
    assert export_build_cache(store, records, layout) == 2  # the layer and the mount
    return layout, records


def _blob(layout: Path, digest: Digest | str) -> Path:
    return layout / "blobs" / "sha256" / str(digest).removeprefix("sha256:")


def _manifest(layout: Path) -> dict[str, Any]:
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    doc: dict[str, Any] = json.loads(_blob(layout, entry["digest"]).read_bytes())
    return doc


def _rewrite_config(layout: Path, change: dict[str, object]) -> None:
    """Replace the cache's step records (and the manifest and index entry over them)."""
    index = json.loads((layout / "index.json").read_text())
    manifest = _manifest(layout)
    config = json.loads(_blob(layout, manifest["config"]["digest"]).read_bytes())
    config.update(change)
    raw = json.dumps(config).encode()
    _blob(layout, "sha256:" + hashlib.sha256(raw).hexdigest()).write_bytes(raw)
    manifest["config"] = {
        "mediaType": CACHE_ARTIFACT,
        "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
    }
    mraw = json.dumps(manifest).encode()
    _blob(layout, "sha256:" + hashlib.sha256(mraw).hexdigest()).write_bytes(mraw)
    index["manifests"][0].update(
        digest="sha256:" + hashlib.sha256(mraw).hexdigest(), size=len(mraw)
    )
    (layout / "index.json").write_text(json.dumps(index))


def test_an_export_is_an_oci_layout_with_the_cache_artifact(
    exported: tuple[Path, dict[str, CacheRecord]],
) -> None:
    layout, records = exported
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert entry["artifactType"] == CACHE_ARTIFACT
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "build-cache"}
    manifest = _manifest(layout)
    assert manifest["artifactType"] == CACHE_ARTIFACT
    layer = records[KEY][0]
    assert layer is not None
    assert [d["digest"] for d in manifest["layers"]][0] == str(layer.digest)
    for desc in manifest["layers"]:
        assert _blob(layout, desc["digest"]).stat().st_size == desc["size"]
    assert not [p for p in layout.iterdir() if p.name.startswith(".")]  # no temp files left


def test_an_import_fills_an_empty_store(
    exported: tuple[Path, dict[str, CacheRecord]], tmp_path: Path
) -> None:
    layout, records = exported
    fresh = Store(tmp_path / "fresh")
    assert import_build_cache(fresh, layout) == 2
    cache = BuildCache(fresh)
    hit = cache.get(KEY)
    assert hit is not None and (hit.layer, hit.diff_id) == records[KEY]
    assert fresh.blobs.exists(hit.layer.digest)  # type: ignore[union-attr]
    empty = cache.get(EMPTY_KEY)
    assert empty is not None and empty.layer is None
    (mount,) = (fresh.root / "cache-mounts").iterdir()
    assert (mount / "state").read_text() == "warm\n"


def test_a_layout_without_a_cache_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    with store.writing():
        copy(f"rootfs:{EXAMPLES / 'hello-rootfs'}", "hello:1", store)
    copy("hello:1", f"oci:{tmp_path / 'image'}:1", store)
    with pytest.raises(InvalidArgument, match="no imageforge build cache in it"):
        import_build_cache(Store(tmp_path / "fresh"), tmp_path / "image")


def _layer_blob(layout: Path, records: dict[str, CacheRecord]) -> Path:
    layer = records[KEY][0]
    assert layer is not None
    return _blob(layout, layer.digest)


def _nothing_imported(store: Store) -> None:
    assert list(store.blobs.walk()) == []
    assert BuildCache(store).get(KEY) is None


def test_a_blob_that_is_a_link_to_dev_zero_is_refused_at_once(
    exported: tuple[Path, dict[str, CacheRecord]], tmp_path: Path
) -> None:
    """The attack of #19 on --cache-from: before, the import read /dev/zero for ever.
    Performed through the CLI, as a CI job would meet it (the build needs no runtime)."""
    layout, records = exported
    blob = _layer_blob(layout, records)
    blob.unlink()
    blob.symlink_to("/dev/zero")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nLABEL step=one\n")
    root = tmp_path / "victim"
    r = run_cli(
        ["--root", str(root), "build", str(context), "-t", "x:1", "--cache-from", f"oci:{layout}"],
        timeout=60,  # the old import never returned
    )
    assert r.returncode == 2, r.stderr
    assert "is a symlink to /dev/zero, outside the layout" in r.stderr
    assert "hint:" in r.stderr
    _nothing_imported(Store(root))
    assert Store(root).refs.all() == []  # nothing was built or named


def test_a_blob_that_is_a_fifo_is_refused_without_waiting(
    exported: tuple[Path, dict[str, CacheRecord]], tmp_path: Path
) -> None:
    layout, records = exported
    blob = _layer_blob(layout, records)
    blob.unlink()
    os.mkfifo(blob)  # nobody writes: a reader that opened it would wait for ever
    fresh = Store(tmp_path / "fresh")
    with pytest.raises(InvalidArgument, match="is a fifo, not a regular file"):
        import_build_cache(fresh, layout)
    _nothing_imported(fresh)


def test_a_blob_longer_than_its_descriptor_is_refused(
    exported: tuple[Path, dict[str, CacheRecord]], tmp_path: Path
) -> None:
    layout, records = exported
    blob = _layer_blob(layout, records)
    blob.write_bytes(blob.read_bytes() + b"\0" * (3 << 20))
    fresh = Store(tmp_path / "fresh")
    with pytest.raises(DigestMismatch, match="more than the .* bytes its descriptor gives"):
        import_build_cache(fresh, layout)
    _nothing_imported(fresh)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": {"../../../escaped": None}}, "is not a step key"),
        ({"cacheMounts": {"..": "sha256:" + "0" * 64}}, "is not a plain file name"),
        ({"steps": {"c" * 64: {"digest": "sha256:" + "0" * 64}}}, "not a layer record"),
    ],
)
def test_records_that_name_paths_or_are_malformed_are_refused(
    exported: tuple[Path, dict[str, CacheRecord]],
    tmp_path: Path,
    change: dict[str, object],
    message: str,
) -> None:
    layout, _ = exported
    _rewrite_config(layout, change)
    fresh = Store(tmp_path / "fresh")
    with pytest.raises(InvalidArgument, match=message):
        import_build_cache(fresh, layout)
    assert not (tmp_path / "escaped.json").exists()
    assert not (fresh.root / "build-cache").exists()  # no record written before the check
