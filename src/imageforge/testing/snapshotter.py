"""The contract every snapshotter (``runtime.Snapshotter``) passes, on real mounts.

Provide a ``snapshotter`` fixture returning one over empty storage. The suite unpacks
layers, mounts stacks of them, writes through the mounts and commits or removes what
was written, so it needs what the snapshotter needs (for the overlay one: root, or a
user namespace, and overlayfs).
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pytest

from imageforge.errors import DigestMismatch, InvalidArgument, NotFound
from imageforge.layers import (
    BlobLayer,
    Entry,
    EntryType,
    opaque_whiteout_entry,
    whiteout_entry,
    write_layer,
)
from imageforge.oci import Descriptor, Digest, digest_bytes, media
from imageforge.runtime import Snapshotter

__all__ = ["BASE_TREE", "SnapshotterContract", "dir_entry", "file_entry", "layer_tar", "tree"]

Item = tuple[Entry, bytes | None]


def file_entry(path: str, data: bytes, mode: int = 0o644) -> Item:
    return Entry(path, EntryType.FILE, size=len(data), mode=mode), data


def dir_entry(path: str, mode: int = 0o755) -> Item:
    return Entry(path, EntryType.DIR, mode=mode), None


BASE_TREE: list[Item] = [
    dir_entry("etc"),
    file_entry("etc/passwd", b"root\n"),
    file_entry("etc/group", b"root\n"),
    dir_entry("var"),
    dir_entry("var/cache"),
    file_entry("var/cache/old", b"old\n"),
    file_entry("keep", b"keep\n"),
]
"""A small base layer both contract suites start from: a file a later layer deletes
(``etc/group``), one it replaces a directory over (``var/cache``), one nothing touches."""


def layer_tar(entries: Sequence[Item]) -> tuple[bytes, Digest]:
    """An uncompressed layer tar of ``entries`` and its diff_id."""
    buf = io.BytesIO()
    info = write_layer(entries, buf, compression="none")
    return buf.getvalue(), info.diff_id


def tree(root: Path) -> dict[str, str]:
    """What a directory shows: path -> file content, ``dir``, ``-> target`` or
    ``special``."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_file():
            out[rel] = p.read_text()
        else:
            out[rel] = "special"
    return out


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


class _Layers:
    """Uncompressed layers served from memory, counting how often each is opened."""

    def __init__(self) -> None:
        self.blobs: dict[Digest, bytes] = {}
        self.opened: list[Digest] = []

    def add(self, entries: Sequence[Item]) -> BlobLayer:
        raw, diff_id = layer_tar(entries)
        digest = digest_bytes(raw)
        self.blobs[digest] = raw
        return BlobLayer(Descriptor(media.OCI_LAYER, digest, len(raw)), diff_id, self._open)

    def _open(self, digest: Digest) -> IO[bytes]:
        self.opened.append(digest)
        return io.BytesIO(self.blobs[digest])


class SnapshotterContract:
    @pytest.fixture
    def snapshotter(self) -> Snapshotter:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    @staticmethod
    def _apply(snapshotter: Snapshotter, entries: Sequence[Item]) -> Digest:
        raw, diff_id = layer_tar(entries)
        snapshotter.apply(diff_id, lambda: io.BytesIO(raw))
        return diff_id

    def _stack(self, snapshotter: Snapshotter) -> list[Digest]:
        base = self._apply(
            snapshotter,
            BASE_TREE,
        )
        top = self._apply(
            snapshotter,
            [
                (whiteout_entry("etc/group"), None),
                dir_entry("var/cache"),
                (opaque_whiteout_entry("var/cache"), None),
                file_entry("var/cache/new", b"new\n"),
            ],
        )
        return [base, top]

    def test_layers_stack_with_their_whiteouts(self, snapshotter: Snapshotter) -> None:
        parents = self._stack(snapshotter)
        assert all(snapshotter.has(p) for p in parents)
        with snapshotter.prepare(parents) as snapshot:
            assert tuple(snapshot.parents) == tuple(parents)
            assert tree(snapshot.merged) == {
                "etc": "dir",
                "etc/passwd": "root\n",
                "keep": "keep\n",
                "var": "dir",
                "var/cache": "dir",
                "var/cache/new": "new\n",
            }
            merged = snapshot.merged
        assert not _mounted(merged)  # leaving the block removed it

    def test_a_snapshot_with_no_parents_is_empty(self, snapshotter: Snapshotter) -> None:
        with snapshotter.prepare([]) as snapshot:
            assert tree(snapshot.merged) == {}
            (snapshot.merged / "new").write_text("x")

    def test_committed_changes_are_a_snapshot_the_next_one_stacks(
        self, snapshotter: Snapshotter
    ) -> None:
        parents = self._stack(snapshotter)
        snapshot = snapshotter.prepare(parents)
        (snapshot.merged / "hello").write_text("hi\n")
        os.remove(snapshot.merged / "etc" / "passwd")
        snapshot.unmount()
        assert (snapshot.upper / "hello").read_text() == "hi\n"
        made = digest_bytes(b"the diff_id the Differ would give")
        snapshotter.commit(snapshot, made)
        assert snapshotter.has(made)
        with snapshotter.prepare([*parents, made], readonly=True) as view:
            seen = tree(view.merged)
            with pytest.raises(OSError) as exc:
                (view.merged / "nope").write_text("x")
            assert exc.value.errno == errno.EROFS
        assert seen["hello"] == "hi\n" and "etc/passwd" not in seen

    def test_removed_changes_are_gone(self, snapshotter: Snapshotter) -> None:
        parents = self._stack(snapshotter)
        snapshot = snapshotter.prepare(parents)
        (snapshot.merged / "scratch").write_text("x")
        merged = snapshot.merged
        snapshotter.remove(snapshot)
        assert not _mounted(merged)
        with snapshotter.prepare(parents) as again:
            assert not (again.merged / "scratch").exists()

    def test_lowers_are_the_parents_topmost_first(self, snapshotter: Snapshotter) -> None:
        parents = self._stack(snapshotter)
        with snapshotter.prepare(parents) as snapshot:
            lowers = snapshotter.lowers(snapshot)
        assert len(lowers) == 2
        assert (lowers[0] / "var" / "cache" / "new").read_text() == "new\n"
        assert (lowers[1] / "etc" / "passwd").read_text() == "root\n"

    def test_a_missing_parent_is_not_found(self, snapshotter: Snapshotter) -> None:
        with pytest.raises(NotFound):
            snapshotter.prepare([digest_bytes(b"never applied")])

    def test_a_wrong_diff_id_leaves_no_snapshot(self, snapshotter: Snapshotter) -> None:
        raw, _ = layer_tar([file_entry("a", b"a\n")])
        wrong = digest_bytes(b"something else")
        with pytest.raises(DigestMismatch):
            snapshotter.apply(wrong, lambda: io.BytesIO(raw))
        assert not snapshotter.has(wrong)

    def test_a_layer_escaping_its_root_leaves_no_snapshot(self, snapshotter: Snapshotter) -> None:
        raw, diff_id = layer_tar(
            [
                (Entry("evil", EntryType.SYMLINK, linkname="/etc"), None),
                file_entry("evil/passwd", b"x"),
            ]
        )
        with pytest.raises(InvalidArgument, match="symlink"):
            snapshotter.apply(diff_id, lambda: io.BytesIO(raw))
        assert not snapshotter.has(diff_id)

    def test_ensure_unpacks_each_layer_once(self, snapshotter: Snapshotter) -> None:
        layers = _Layers()
        base = layers.add([file_entry("a", b"a\n")])
        top = layers.add([file_entry("b", b"b\n")])
        assert snapshotter.ensure([base, top]) == [base.diff_id, top.diff_id]
        assert snapshotter.ensure([base, top]) == [base.diff_id, top.diff_id]
        assert sorted(layers.opened) == sorted([base.digest, top.digest])
        with snapshotter.prepare([base.diff_id, top.diff_id]) as snapshot:
            assert tree(snapshot.merged) == {"a": "a\n", "b": "b\n"}

    def test_prune_keeps_what_is_asked_and_usage_counts_it(self, snapshotter: Snapshotter) -> None:
        kept = self._apply(snapshotter, [file_entry("kept", b"k" * 5000)])
        dropped = self._apply(snapshotter, [file_entry("dropped", b"d" * 7000)])
        assert snapshotter.usage() >= 12000
        freed = snapshotter.prune({kept})
        assert freed >= 7000
        assert snapshotter.has(kept) and not snapshotter.has(dropped)
        assert 5000 <= snapshotter.usage() < 12000

    def test_cleanup_stale_removes_what_a_dead_process_left(self, snapshotter: Snapshotter) -> None:
        parents = self._stack(snapshotter)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # a build that dies with its snapshot mounted
            try:
                snapshot = snapshotter.prepare(parents)
                os.write(write_end, str(snapshot.merged).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as f:
            merged = Path(f.read())
        os.waitpid(pid, 0)
        assert _mounted(merged)
        with snapshotter.prepare(parents) as alive:  # ours: its process is alive
            removed = snapshotter.cleanup_stale()
            assert len(removed) == 1 and removed[0] != alive.id
            assert not _mounted(merged)
            assert _mounted(alive.merged)
