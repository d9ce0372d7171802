"""Faults met for real: a full disk (a size-limited tmpfs) and two writers of one blob."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.errors import StorageFull
from imageforge.oci import digest_bytes
from imageforge.store import FileBlobStore
from tests.conftest import run_cli


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real filesystem that fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _ingest_leftovers(store: FileBlobStore) -> list[str]:
    return sorted(os.listdir(store.ingest_dir))


def test_a_full_disk_is_reported_and_releases_what_was_written(small_disk: Path) -> None:
    store = FileBlobStore(small_disk / "store")
    kept = os.urandom(256 << 10)
    kept_info = store.write_blob(kept)
    free_before = shutil.disk_usage(small_disk).free
    big = os.urandom(8 << 20)
    with pytest.raises(StorageFull, match="no space left on device under") as err:
        with store.begin("big") as ingest:
            for i in range(0, len(big), 1 << 20):
                ingest.write(big[i : i + (1 << 20)])
            ingest.commit(len(big), digest_bytes(big))
    assert str(small_disk / "store") in err.value.message
    assert err.value.hint and "prune" in err.value.hint
    # The space is back at once, and the blob stored before is whole.
    assert _ingest_leftovers(store) == []
    assert shutil.disk_usage(small_disk).free >= free_before - (64 << 10)
    with store.open(kept_info.digest) as f:
        assert f.read() == kept
    assert not store.exists(digest_bytes(big))


def test_import_into_a_full_store_says_no_space_not_internal_error(
    small_disk: Path, tmp_path: Path
) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "data").mkdir(parents=True)
    (rootfs / "data" / "small").write_bytes(b"x" * 1000)
    root = small_disk / "store"
    r = run_cli(["--root", str(root), "import", f"rootfs:{rootfs}", "-t", "small:1"])
    assert r.returncode == 0, r.stderr
    # Random bytes do not compress: this layer cannot fit in what is left.
    (rootfs / "data" / "big").write_bytes(os.urandom(6 << 20))
    r = run_cli(["--root", str(root), "import", f"rootfs:{rootfs}", "-t", "big:1"])
    assert r.returncode == 10, (r.returncode, r.stderr)
    assert "no space left on device" in r.stderr
    assert "internal error" not in r.stderr
    assert "prune" in r.stderr
    assert _ingest_leftovers(FileBlobStore(root)) == []
    # What was stored before still works.
    out = tmp_path / "out"
    r = run_cli(["--root", str(root), "export", "small:1", f"oci:{out}:1"])
    assert r.returncode == 0, r.stderr


def test_export_to_a_full_disk_names_the_file_not_an_internal_error(
    small_disk: Path, tmp_path: Path
) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "big").write_bytes(os.urandom(6 << 20))
    root = tmp_path / "store"
    r = run_cli(["--root", str(root), "import", f"rootfs:{rootfs}", "-t", "big:1"])
    assert r.returncode == 0, r.stderr
    r = run_cli(["--root", str(root), "export", "big:1", f"oci:{small_disk / 'out'}:1"])
    assert r.returncode == 10, (r.returncode, r.stderr)
    assert "no space left on device" in r.stderr
    assert str(small_disk / "out") in r.stderr
    assert list((small_disk / "out").rglob(".*.*")) == []  # no half-written temp file
    assert "internal error" not in r.stderr


def test_writers_of_the_same_blob_at_the_same_time_all_succeed(tmp_path: Path) -> None:
    """One image pushed to two repositories at once writes each blob twice at the same
    moment; neither writer may fail because the other holds the ingest."""
    data = os.urandom(2 << 20)
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def writer() -> None:
        store = FileBlobStore(tmp_path / "store")  # its own handle, as another process has
        try:
            start.wait()
            for _ in range(5):
                info = store.write_blob(data)
                assert info.size == len(data)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = FileBlobStore(tmp_path / "store")
    with store.open(digest_bytes(data)) as f:
        assert f.read() == data
    assert _ingest_leftovers(store) == []


def test_a_blob_write_killed_half_way_does_not_spoil_the_next(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "store")
    data = b"the whole manifest"
    digest = digest_bytes(data)
    stale = store.begin(f"blob-{digest}")
    stale.write(b"the who")  # a killed writer's first bytes, left behind
    stale.close()
    assert store.write_blob(data).digest == digest
    with store.open(digest) as f:
        assert f.read() == data
