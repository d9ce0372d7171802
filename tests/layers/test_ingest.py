"""``ingest_layer``: the one way a new layer becomes a blob, committed only when the bytes
the store received are the layer its writer reported."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from imageforge.errors import DigestMismatch
from imageforge.layers import Entry, EntryType, LayerInfo, ingest_layer, write_layer
from imageforge.layers._compression import Writable
from imageforge.oci import media
from imageforge.progress import RecordingProgress
from imageforge.store import Store

ENTRIES = [(Entry("hello", EntryType.FILE, size=3, mode=0o644), b"hi\n")]


def _write(dst: Writable) -> LayerInfo:
    return write_layer(ENTRIES, dst, compression="gzip")


def test_a_written_layer_is_a_verified_blob_read_back_from_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    layer = ingest_layer(store.blobs, _write)
    assert store.blobs.exists(layer.digest)
    assert layer.media_type == media.OCI_LAYER_GZIP
    with layer.open_compressed() as f:
        blob = f.read()
    assert len(blob) == layer.size
    with layer.open_uncompressed() as f:
        assert f.read() == gzip.decompress(blob)
    assert not any(store.blobs.ingest_dir.iterdir())  # nothing left half-written


def test_a_writer_that_lies_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")

    def lying(dst: Writable) -> LayerInfo:
        info = _write(dst)
        dst.write(b"one byte more than it reports")
        return info

    with pytest.raises(DigestMismatch):
        ingest_layer(store.blobs, lying)
    assert list(store.blobs.walk()) == []
    assert not any(store.blobs.ingest_dir.iterdir())


def test_a_failing_writer_leaves_nothing_and_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    progress = RecordingProgress()

    def failing(dst: Writable) -> LayerInfo:
        dst.write(b"partial")
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        ingest_layer(store.blobs, failing, what="test", progress=progress)
    assert list(store.blobs.walk()) == []
    assert not any(store.blobs.ingest_dir.iterdir())
    assert [(e.kind, e.failed) for e in progress.events][-1] == ("done", True)


def test_progress_counts_the_bytes_when_asked(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    progress = RecordingProgress()
    layer = ingest_layer(store.blobs, _write, what="busybox", progress=progress)
    start, *advances, done = progress.events
    assert start.kind == "start" and start.text == "writing busybox layer"
    assert sum(e.amount or 0 for e in advances) == layer.size
    assert done.kind == "done" and done.text == f"{layer.digest.short}, {layer.size} bytes"
    silent = RecordingProgress()
    ingest_layer(store.blobs, _write, progress=silent)
    assert silent.events == []
