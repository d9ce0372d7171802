"""The contract every Differ (``layers.Differ``) passes, on upper dirs made through real
mounts.

Provide a ``differ`` fixture and a ``snapshotter`` fixture (the snapshotter whose upper
dirs the Differ reads, over empty storage). Each test mounts a stack of layers, changes
the filesystem through the mount as a build step would, and checks the layer the Differ
writes: what it holds, that it reproduces the change, and that what is no change of the
step's own stays out of it.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from imageforge.layers import (
    Compression,
    Differ,
    Entry,
    EntryType,
    LayerInfo,
    LayerReader,
    LayerSource,
    extract_layers,
)
from imageforge.oci import digest_bytes, media
from imageforge.runtime import Snapshot, Snapshotter
from imageforge.testing.snapshotter import (
    BASE_TREE,
    Item,
    dir_entry,
    layer_tar,
    tree,
)

__all__ = ["DifferContract"]


_BASE: list[Item] = [*BASE_TREE, dir_entry("srv")]


def _entries(layer: bytes) -> dict[str, Entry]:
    return {e.path: e for e in LayerReader(io.BytesIO(layer))}


class DifferContract:
    @pytest.fixture
    def differ(self) -> Differ:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    @pytest.fixture
    def snapshotter(self) -> Snapshotter:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    @contextmanager
    def _step(
        self, snapshotter: Snapshotter, change: Callable[[Path], None]
    ) -> Iterator[tuple[Snapshot, bytes]]:
        """Mount the base, apply ``change`` through the mount, unmount; the snapshot (its
        upper dir holds the change) and the base layer's tar."""
        raw, base = layer_tar(_BASE)
        snapshotter.apply(base, lambda: io.BytesIO(raw))
        with snapshotter.prepare([base]) as snapshot:
            change(snapshot.merged)
            snapshot.unmount()
            yield snapshot, raw

    @staticmethod
    def _layer(
        differ: Differ,
        upper: Path,
        compression: Compression = "gzip",
        mtime_clamp: int | None = None,
    ) -> tuple[bytes, LayerInfo]:
        buf = io.BytesIO()
        info = differ.compare(upper, buf, compression=compression, mtime_clamp=mtime_clamp)
        return buf.getvalue(), info

    def test_changes_become_entries_and_deletions_whiteouts(
        self, differ: Differ, snapshotter: Snapshotter
    ) -> None:
        def change(root: Path) -> None:
            (root / "hello").write_text("hi\n")
            os.remove(root / "etc" / "passwd")
            os.remove(root / "etc" / "group")  # whiteouts share one inode: each is kept
            shutil.rmtree(root / "var" / "cache")
            (root / "var" / "cache").mkdir()  # replaced: opaque
            (root / "var" / "cache" / "new").write_text("new\n")
            os.chmod(root / "keep", 0o600)
            os.link(root / "hello", root / "hello-hard")
            os.symlink("hello", root / "hello-link")

        with self._step(snapshotter, change) as (snapshot, _):
            assert differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))
            layer, info = self._layer(differ, snapshot.upper, compression="none")
        names = _entries(layer)
        assert {"etc/.wh.passwd", "etc/.wh.group", "var/cache/.wh..wh..opq"} <= set(names)
        assert names["hello-hard"].type is EntryType.HARDLINK
        assert names["hello-link"].linkname == "hello"
        assert names["keep"].mode == 0o600
        assert "srv" not in names and "var/cache/old" not in names
        assert all(
            not k.startswith(("trusted.overlay", "user.overlay"))
            for e in names.values()
            for k in e.xattrs
        )
        assert info.diff_id == info.digest == digest_bytes(layer)

    def test_the_layer_reproduces_what_the_step_saw(
        self, differ: Differ, snapshotter: Snapshotter, tmp_path: Path
    ) -> None:
        seen: dict[str, str] = {}

        def change(root: Path) -> None:
            (root / "srv" / "app").write_text("app\n")
            os.remove(root / "etc" / "group")
            shutil.rmtree(root / "var")
            (root / "var").mkdir()
            (root / "var" / "fresh").write_text("fresh\n")
            seen.update(tree(root))

        with self._step(snapshotter, change) as (snapshot, base):
            differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))
            layer, _ = self._layer(differ, snapshot.upper)
        (tmp_path / "base.tar").write_bytes(base)
        (tmp_path / "top.tar.gz").write_bytes(layer)
        target = tmp_path / "rootfs"
        target.mkdir()
        extract_layers(
            [LayerSource(tmp_path / "base.tar"), LayerSource(tmp_path / "top.tar.gz")], target
        )
        assert tree(target) == seen

    def test_a_step_that_changed_nothing_leaves_nothing(
        self, differ: Differ, snapshotter: Snapshotter
    ) -> None:
        def change(root: Path) -> None:  # copies var/cache up, then changes nothing
            (root / "var" / "cache" / "tmp").write_text("x")
            os.remove(root / "var" / "cache" / "tmp")

        with self._step(snapshotter, change) as (snapshot, _):
            assert os.listdir(snapshot.upper)  # the kernel copied the directories up
            assert not differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))

    def test_an_emptied_and_recreated_directory_stays_opaque(
        self, differ: Differ, snapshotter: Snapshotter
    ) -> None:
        def change(root: Path) -> None:  # same mode and owner as before, but empty now
            shutil.rmtree(root / "var" / "cache")
            (root / "var" / "cache").mkdir(0o755)

        with self._step(snapshotter, change) as (snapshot, _):
            assert differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))
            layer, _ = self._layer(differ, snapshot.upper)
        assert "var/cache/.wh..wh..opq" in _entries(layer)

    def test_a_directory_whose_mode_changed_is_a_change(
        self, differ: Differ, snapshotter: Snapshotter
    ) -> None:
        def change(root: Path) -> None:
            os.chmod(root / "srv", 0o700)

        with self._step(snapshotter, change) as (snapshot, _):
            assert differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))
            layer, _ = self._layer(differ, snapshot.upper)
        assert stat.S_IMODE(_entries(layer)["srv"].mode) == 0o700

    def test_stand_ins_go_only_while_empty(self, differ: Differ, snapshotter: Snapshotter) -> None:
        def change(root: Path) -> None:  # what a runtime leaves for its mount points
            (root / "proc").mkdir()
            (root / "etc" / "hosts").write_text("")
            (root / "dev").mkdir()
            (root / "dev" / "kept").write_text("the step wrote this")
            (root / "etc" / "resolv.conf").write_text("nameserver 10.0.2.3\n")

        stand_ins = ["etc/hosts", "etc/resolv.conf", "proc", "dev"]
        with self._step(snapshotter, change) as (snapshot, _):
            assert differ.drop_unchanged(
                snapshot.upper, snapshotter.lowers(snapshot), stand_ins=stand_ins
            )
            layer, _ = self._layer(differ, snapshot.upper)
        names = set(_entries(layer))
        assert "proc" not in names and "etc/hosts" not in names
        assert {"dev/kept", "etc/resolv.conf"} <= names

    def test_only_stand_ins_is_no_change(self, differ: Differ, snapshotter: Snapshotter) -> None:
        def change(root: Path) -> None:
            (root / "proc").mkdir()
            (root / "etc" / "hostname").write_text("")

        with self._step(snapshotter, change) as (snapshot, _):
            assert not differ.drop_unchanged(
                snapshot.upper, snapshotter.lowers(snapshot), stand_ins=["etc/hostname", "proc"]
            )

    @pytest.mark.parametrize(
        ("compression", "media_type"),
        [("none", media.OCI_LAYER), ("gzip", media.OCI_LAYER_GZIP), ("zstd", media.OCI_LAYER_ZSTD)],
    )
    def test_the_same_change_gives_the_same_layer(
        self, differ: Differ, snapshotter: Snapshotter, compression: Compression, media_type: str
    ) -> None:
        def change(root: Path) -> None:
            (root / "srv" / "a").write_text("a\n")

        with self._step(snapshotter, change) as (snapshot, _):
            first, info = self._layer(differ, snapshot.upper, compression=compression)
            again, _ = self._layer(differ, snapshot.upper, compression=compression)
        assert first == again
        assert info.media_type == media_type and info.size == len(first)
        assert info.digest == digest_bytes(first)
        if compression == "gzip":
            assert info.diff_id == digest_bytes(gzip.decompress(first))

    def test_times_are_clamped_to_the_epoch(self, differ: Differ, snapshotter: Snapshotter) -> None:
        def change(root: Path) -> None:
            (root / "srv" / "a").write_text("a\n")

        with self._step(snapshotter, change) as (snapshot, _):
            layer, _ = self._layer(differ, snapshot.upper, compression="none", mtime_clamp=1000)
        entries = _entries(layer)
        assert entries["srv/a"].mtime == 1000
        assert all(e.mtime <= 1000 for e in entries.values())
