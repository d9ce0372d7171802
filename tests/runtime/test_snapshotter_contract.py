"""The overlay snapshotter passes the Snapshotter contract on real overlay mounts, and a
store's snapshotter lives in the folder the store names for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import digest_bytes
from imageforge.runtime import OverlaySnapshotter, Snapshotter, store_snapshotter
from imageforge.store import Store
from imageforge.testing import SnapshotterContract
from tests.conftest import requires_root

pytestmark = requires_root


class TestOverlaySnapshotter(SnapshotterContract):
    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> Snapshotter:
        return OverlaySnapshotter(tmp_path / "snapshots")


class TestOverlaySnapshotterUnderUserxattr(SnapshotterContract):
    """Mounted with ``userxattr``, whiteouts and opaque markers as a rootless build has
    them."""

    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> Snapshotter:
        return OverlaySnapshotter(tmp_path / "snapshots", userxattr=True)


def test_a_store_snapshotter_lives_under_the_store_s_snapshots_folder(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    snapshots = store_snapshotter(store)
    with snapshots.prepare([]) as snapshot:
        assert store.layout.snapshots in snapshot.merged.parents
    assert store.layout.snapshots == (tmp_path / "store" / "snapshots").absolute()


def test_a_snapshot_of_another_snapshotter_is_refused(tmp_path: Path) -> None:
    one = OverlaySnapshotter(tmp_path / "one")
    other = OverlaySnapshotter(tmp_path / "other")
    with one.prepare([]) as snapshot:
        with pytest.raises(InvalidArgument, match="was not prepared by"):
            other.commit(snapshot, digest_bytes(b"x"))
        assert os.path.ismount(snapshot.merged)  # untouched: still mounted, still one's
