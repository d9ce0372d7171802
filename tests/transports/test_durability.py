"""The order of fsyncs and renames a copy makes (what a crash can leave behind): every
blob file is fsynced before it is renamed into place, the blob directory is fsynced once
after the last blob's rename and before the name (``index.json``, the store ref) that
points at the blobs is written; a large blob's pages are handed to the disk as it is
written, before that fsync. The calls are the real ones, recorded as they pass."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imageforge.layers import BlobLayer, Entry, EntryType, write_layer
from imageforge.oci import Descriptor, Image, media, mutate
from imageforge.store import Store
from imageforge.store import start_writeback as store_start_writeback
from imageforge.transports import _sinks, open_source, write_image
from imageforge.transports._sinks import WRITEBACK_STEP


def _image(store: Store, layers: int) -> Image:
    added = []
    for n in range(layers):
        buf = io.BytesIO()
        data = os.urandom(4096 + n)
        entry = Entry(f"file{n}", EntryType.FILE, size=len(data))
        info = write_layer([(entry, io.BytesIO(data))], buf)
        store.blobs.write_blob(buf.getvalue(), info.digest)
        desc = Descriptor(info.media_type, info.digest, info.size)
        added.append(mutate.Addendum(BlobLayer(desc, info.diff_id, store.blobs.open)))
    return mutate.append_layers(mutate.empty_image(), *added)


Event = tuple[str, str]


def _record(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Event], list[int]]:
    """Log ``("fsync", path)`` and ``("rename", destination)`` as the real calls happen,
    and the inode each fsync reached (a file is synced under its temporary name)."""
    events: list[Event] = []
    inodes: list[int] = []
    real_fsync = os.fsync
    real_rename, real_replace = os.rename, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        inodes.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    def renaming(real: Callable[..., None]) -> Callable[..., None]:
        def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            ino = os.stat(src).st_ino
            real(src, dst, *args, **kwargs)
            events.append(("rename", os.fspath(dst)))
            inodes.append(ino)

        return rename

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", renaming(real_rename))
    monkeypatch.setattr(os, "replace", renaming(real_replace))
    return events, inodes


def _blob_file_order(events: list[Event], inodes: list[int], blob_dir: Path) -> list[str]:
    """Each blob renamed into ``blob_dir`` had its data fsynced before; the names."""
    renamed = [p for kind, p in events if kind == "rename" and Path(p).parent == blob_dir]
    for path in renamed:
        at = events.index(("rename", path))
        synced = {inodes[i] for i in range(at) if events[i][0] == "fsync"}
        assert inodes[at] in synced, f"{path} was renamed into place before its data was synced"
    return renamed


def test_a_layout_gets_one_directory_fsync_for_its_blobs_before_index_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "root")
    image = _image(store, 3)
    out = tmp_path / "out"
    events, inodes = _record(monkeypatch)
    write_image(image, f"oci:{out}:1", store, jobs=3)
    monkeypatch.undo()

    blob_dir = out / "blobs" / "sha256"
    renamed = _blob_file_order(events, inodes, blob_dir)
    assert len(renamed) == 5  # three layers, the config, the manifest
    dir_syncs = [i for i, e in enumerate(events) if e == ("fsync", str(blob_dir))]
    index_at = events.index(("rename", str(out / "index.json")))
    assert len(dir_syncs) == 1
    assert max(events.index(("rename", p)) for p in renamed) < dir_syncs[0] < index_at
    # oci-layout and index.json are renamed into the root, then the root is synced once
    assert events[index_at + 1 :] == [("fsync", str(out))]
    assert [e for e in events if e == ("fsync", str(out))] == [("fsync", str(out))]
    with open_source(f"oci:{out}:1") as back:
        assert back.digest == image.digest


def test_the_store_syncs_its_blob_directory_once_before_the_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Store(tmp_path / "source")
    image = _image(source, 3)
    write_image(image, f"oci:{tmp_path / 'layout'}:1", source)
    target = Store(tmp_path / "target")
    events, inodes = _record(monkeypatch)
    real_set = target.refs.set

    def set_ref(name: str, digest: Any, media_type: str) -> None:
        events.append(("ref", name))
        inodes.append(0)
        real_set(name, digest, media_type)

    monkeypatch.setattr(target.refs, "set", set_ref)
    with open_source(f"oci:{tmp_path / 'layout'}:1") as obj:
        write_image(obj, "copied:1", target, jobs=3)
    monkeypatch.undo()

    blob_dir = target.blobs.blob_dir / "sha256"
    renamed = _blob_file_order(events, inodes, blob_dir)
    assert len(renamed) == 5
    dir_syncs = [i for i, e in enumerate(events) if e == ("fsync", str(blob_dir))]
    assert len(dir_syncs) == 1
    ref_at = next(i for i, e in enumerate(events) if e[0] == "ref")
    assert max(events.index(("rename", p)) for p in renamed) < dir_syncs[0] < ref_at
    with open_source("copied:1", target) as back:
        assert back.digest == image.digest


def test_an_archive_is_fsynced_as_one_file_not_blob_by_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "root")
    image = _image(store, 2)
    archive = tmp_path / "image.tar"
    events, inodes = _record(monkeypatch)
    write_image(image, f"oci-archive:{archive}:1", store)
    monkeypatch.undo()

    synced = [p for kind, p in events if kind == "fsync"]
    assert not [p for p in synced if "/blobs/" in p], synced  # staged blobs: not synced
    assert ("rename", str(archive)) in events
    assert ("fsync", str(tmp_path)) in events[events.index(("rename", str(archive))) :]
    with open_source(f"oci-archive:{archive}:1") as back:
        assert back.digest == image.digest


def test_a_large_blob_is_handed_to_the_disk_as_it_is_written_then_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A blob of two and a half writeback steps: the kernel is asked to start writing
    # each full step while the copy goes on, in order and without a gap, and the file is
    # still fsynced before its rename (that fsync is what makes it durable).
    store = Store(tmp_path / "root")
    data = os.urandom(WRITEBACK_STEP * 5 // 2)
    digest = store.blobs.write_blob(data).digest
    desc = Descriptor(media.OCI_LAYER_GZIP, digest, len(data))
    image = mutate.append_layers(
        mutate.empty_image(), mutate.Addendum(BlobLayer(desc, digest, store.blobs.open))
    )
    out = tmp_path / "out"
    events, inodes = _record(monkeypatch)
    real_start = store_start_writeback

    def start_writeback(fd: int, offset: int, length: int) -> None:
        events.append(("writeback", f"{offset}+{length}"))
        inodes.append(os.fstat(fd).st_ino)
        real_start(fd, offset, length)

    monkeypatch.setattr(_sinks, "start_writeback", start_writeback)
    write_image(image, f"oci:{out}:1", store)
    monkeypatch.undo()

    blob = out / "blobs" / "sha256" / digest.hex
    assert blob.read_bytes() == data
    handed = [(e[1], inodes[i]) for i, e in enumerate(events) if e[0] == "writeback"]
    assert [r for r, _ in handed] == [f"0+{WRITEBACK_STEP}", f"{WRITEBACK_STEP}+{WRITEBACK_STEP}"]
    at = events.index(("rename", str(blob)))
    blob_inode = inodes[at]
    assert {ino for _, ino in handed} == {blob_inode}
    synced = [i for i in range(at) if events[i][0] == "fsync" and inodes[i] == blob_inode]
    last_handed = max(i for i, e in enumerate(events) if e[0] == "writeback")
    assert synced and last_handed < synced[-1] < at
