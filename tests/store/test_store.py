from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.errors import Conflict, NotFound
from imageforge.oci import Descriptor, IndexManifest, Manifest, canonical_json, digest_bytes, media
from imageforge.store import FileBlobStore, Store
from imageforge.testing import BlobStoreContract


class TestFileBlobStore(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, tmp_path: Path) -> FileBlobStore:
        return FileBlobStore(tmp_path / "store")


def _put_image(store: Store, name: str, layer: bytes) -> tuple[Manifest, bytes]:
    config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [str(digest_bytes(layer))]},
        }
    )
    store.blobs.write_blob(layer)
    store.blobs.write_blob(config)
    manifest = Manifest(
        Descriptor(media.OCI_CONFIG, digest_bytes(config), len(config)),
        (Descriptor(media.OCI_LAYER, digest_bytes(layer), len(layer)),),
    )
    raw = manifest.to_bytes()
    store.blobs.write_blob(raw)
    store.refs.set(name, digest_bytes(raw), media.OCI_MANIFEST)
    return manifest, raw


def test_refs_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _, raw = _put_image(store, "docker.io/library/a:1", b"layer-a")
    entry = store.refs.get("docker.io/library/a:1")
    assert entry.digest == digest_bytes(raw) and entry.media_type == media.OCI_MANIFEST
    assert store.resolve("docker.io/library/a:1") == digest_bytes(raw)
    assert store.resolve(digest_bytes(raw).hex[:12]) == digest_bytes(raw)
    assert store.refs.names_for(digest_bytes(raw)) == ["docker.io/library/a:1"]
    store.refs.delete("docker.io/library/a:1")
    with pytest.raises(NotFound, match="not in the store"):
        store.refs.get("docker.io/library/a:1")


def test_prune_keeps_what_refs_reach(tmp_path: Path) -> None:
    store = Store(tmp_path)
    kept_manifest, kept_raw = _put_image(store, "keep:1", b"kept-layer")
    _, gone_raw = _put_image(store, "gone:1", b"gone-layer")
    # an index that refers to the kept manifest keeps it reachable through the index too
    index = IndexManifest((Descriptor(media.OCI_MANIFEST, digest_bytes(kept_raw), len(kept_raw)),))
    store.blobs.write_blob(index.to_bytes())
    store.refs.set("multi:1", digest_bytes(index.to_bytes()), media.OCI_INDEX)
    store.refs.delete("gone:1")
    dry = store.prune(dry_run=True)
    assert {b.digest for b in dry.removed} == {
        digest_bytes(gone_raw),
        digest_bytes(b"gone-layer"),
        digest_bytes(
            canonical_json(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": [str(digest_bytes(b"gone-layer"))]},
                }
            )
        ),
    }
    assert store.blobs.exists(digest_bytes(gone_raw))  # dry run deleted nothing
    report = store.prune()
    assert report.freed == dry.freed > 0
    assert not store.blobs.exists(digest_bytes(b"gone-layer"))
    for d in (digest_bytes(kept_raw), kept_manifest.config.digest, digest_bytes(b"kept-layer")):
        assert store.blobs.exists(d)
    store.refs.delete("keep:1")
    store.prune()
    assert store.blobs.exists(digest_bytes(b"kept-layer"))  # still reached via the index


def test_prune_waits_for_writers(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writing():
        with pytest.raises(Conflict, match="in use"):
            with store.lock.exclusive(blocking=False):
                pass


def test_killed_writer_leaves_no_visible_blob(tmp_path: Path) -> None:
    code = (
        "import sys, time\nfrom pathlib import Path\n"
        "from imageforge.store import FileBlobStore\n"
        "ing = FileBlobStore(Path(sys.argv[1])).begin('held')\n"
        "ing.write(b'partial' * 1000)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        blobs = FileBlobStore(tmp_path)
        with pytest.raises(Conflict):
            blobs.begin("held")  # the live writer holds it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert list(blobs.walk()) == []
    resumed = blobs.begin("held")  # the lock died with the process
    assert resumed.offset == 7000
    resumed.abort()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_suspended_ingest_holds_no_descriptor_and_resumes(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    before = _fds()
    ingest = store.begin("upload-1")
    ingest.write(b"first half, ")
    ingest.suspend()
    assert _fds() == before  # neither the data file nor the lock stays open
    # while suspended another writer may take it (another process would resume it so)
    other = store.begin("upload-1")
    assert other.offset == len(b"first half, ")
    other.write(b"written elsewhere, ")
    other.close()
    ingest.resume()  # notices the other writer's bytes and hashes the file again
    ingest.write(b"second half")
    data = b"first half, written elsewhere, second half"
    assert ingest.offset == len(data)
    info = ingest.commit(len(data), digest_bytes(data))
    assert info.digest == digest_bytes(data) and _fds() == before
    with store.open(info.digest) as f:
        assert f.read() == data


def test_a_suspended_ingest_that_was_discarded_does_not_resume(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    ingest = store.begin("upload-2")
    ingest.write(b"abandoned")
    ingest.suspend()
    store.begin("upload-2").abort()  # as expiry does
    with pytest.raises(NotFound, match="ingest 'upload-2' is gone"):
        ingest.resume()
