"""The filesystem of ``build --isolation none`` (Kaniko's way): ONE plain directory
holds the step's root filesystem, no overlay mount. A step's changes are found by
comparing the directory with the snapshot recorded before the step.

- :class:`RootSnapshotter` (a ``runtime.Snapshotter``): a committed snapshot is the
  layer's uncompressed tar under ``layers/``; :meth:`~RootSnapshotter.prepare` makes
  the root hold exactly its parents (the layers missing on top of what it holds are
  extracted; anything else empties it first) and records every path's metadata. A
  read-only snapshot (``COPY --from``, ``RUN --mount=from``) is the parents extracted into
  a directory of its own. One writable snapshot at a time: the root is one directory.
- :class:`RootSnapshot.unmount` compares the root with the record (``_root_changes``)
  and lays the changes out as an upper dir in the OCI whiteout format: changed files
  hard-linked from the root (same inode: metadata and content exact, nothing copied),
  directories with the root's metadata, ``.wh.<name>`` for a deleted path and
  ``.wh..wh..opq`` in a directory that was replaced (a new inode).
- :class:`RootDiffer` (a ``layers.Differ``) writes that upper dir as the layer through
  the one layer writer, its ``.wh.`` files as the whiteout entries the normal builder
  writes.

Never compared: ``dev``, ``proc`` and ``sys`` (the runtime's in the normal builder), every
mount point under the root in ``/proc/self/mountinfo`` (secrets, service-account tokens)
and the ``--ignore-path``s. No symlink is followed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import IO, Protocol

from imageforge.builder._root_changes import (
    ALWAYS_IGNORED,
    Changes,
    FileState,
    compare_states,
    mount_points_under,
    parents_file,
    scan_root,
    upper_layer_entries,
    write_upper,
)
from imageforge.errors import DigestMismatch, NotFound
from imageforge.layers import Compression, LayerInfo, extract_layer, write_layer
from imageforge.oci import Digest, Layer
from imageforge.runtime import Snapshot

__all__ = ["ALWAYS_IGNORED", "RootDiffer", "RootSnapshot", "RootSnapshotter"]

_CHUNK = 1 << 20

Opener = Callable[[], contextlib.AbstractContextManager[IO[bytes]] | IO[bytes]]


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _is_empty(directory: Path) -> bool:
    with os.scandir(directory) as entries:
        return next(entries, None) is None


class RootDiffer:
    """The :class:`layers.Differ` of :class:`RootSnapshotter`'s upper dirs."""

    def drop_unchanged(
        self, upper: Path, lowers: Sequence[Path], *, stand_ins: Sequence[str] = ()
    ) -> bool:
        # The comparison already left out directories whose mtime alone changed; the
        # chroot runtime takes back what it placed, so stand-ins are only ever left by
        # another runtime: dropped while they are empty, as the overlay Differ does.
        del lowers
        for rel in stand_ins:  # deepest first
            path = upper / rel
            with contextlib.suppress(FileNotFoundError, OSError):
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(path)  # only while empty (ENOTEMPTY otherwise)
                elif stat.S_ISREG(st.st_mode) and not st.st_size:
                    os.unlink(path)
        listed = parents_file(upper)
        only_parents = listed.read_text().split("\n") if listed.exists() else []
        for rel in sorted(filter(None, only_parents), key=lambda d: -d.count("/")):
            with contextlib.suppress(OSError):  # a parent of nothing any more
                os.rmdir(upper / rel)
        return not _is_empty(upper)

    def compare(
        self,
        upper: Path,
        dst: _Writable,
        *,
        compression: Compression = "gzip",
        level: int | None = None,
        mtime_clamp: int | None = None,
    ) -> LayerInfo:
        return write_layer(
            upper_layer_entries(upper),
            dst,
            compression=compression,
            level=level,
            mtime_clamp=mtime_clamp,
        )


class RootSnapshot:
    """A snapshot of :class:`RootSnapshotter`: ``merged`` is the one root (or, read-only,
    a directory of its own); ``upper`` the step's changes once :meth:`unmount` ran."""

    def __init__(
        self,
        owner: RootSnapshotter,
        parents: tuple[Digest, ...],
        merged: Path,
        *,
        readonly: bool,
    ) -> None:
        self.owner = owner
        self.id = uuid.uuid4().hex[:12]
        self.parents = parents
        self.merged = merged
        self.upper = owner.work / f"upper-{self.id}"
        self.readonly = readonly
        self.done = False
        self.changes: Changes | None = None
        self.after: dict[str, FileState] = {}

    def unmount(self) -> None:
        """Compare the root with the record; the changes laid out in ``upper``."""
        if self.readonly or self.changes is not None:
            return
        owner = self.owner
        self.after = scan_root(owner.root, owner.excluded())
        self.changes = compare_states(owner.root, owner.state, self.after, owner.excluded())
        write_upper(owner.root, self.upper, self.after, self.changes)

    def __enter__(self) -> RootSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            self.owner.remove(self)


class RootSnapshotter:
    """The :class:`runtime.Snapshotter` over one root directory under ``directory``;
    ``ignore``: paths in the image never compared (:data:`ALWAYS_IGNORED` and the
    ``--ignore-path``s for a build)."""

    def __init__(self, directory: Path, *, ignore: Sequence[str] = ()) -> None:
        self.directory = directory.absolute()
        self.root = self.directory / "root"
        self.layers = self.directory / "layers"
        self.work = self.directory / "work"
        for d in (self.root, self.layers, self.work):
            d.mkdir(parents=True, exist_ok=True)
        self.ignore = tuple(p.strip("/") for p in ignore if p.strip("/"))
        self.state: dict[str, FileState] = {}
        self._holds: tuple[Digest, ...] | None = ()  # None: unknown, empty it first
        self._lock = threading.Lock()

    def excluded(self) -> set[str]:
        return {*self.ignore, *mount_points_under(self.root)}

    def _tar(self, diff_id: Digest) -> Path:
        return self.layers / f"{diff_id.hex}.tar"

    def has(self, diff_id: Digest) -> bool:
        return self._tar(diff_id).is_file()

    def apply(self, diff_id: Digest, open_uncompressed: Opener, *, name: str = "") -> None:
        if self.has(diff_id):
            return
        tmp = self.layers / f".tmp-{uuid.uuid4().hex[:12]}"
        try:
            opened = open_uncompressed()
            hasher = hashlib.sha256()
            with (
                (
                    opened
                    if isinstance(opened, contextlib.AbstractContextManager)
                    else contextlib.nullcontext(opened)
                ) as stream,
                open(tmp, "wb") as out,
            ):
                while chunk := stream.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
            if hasher.hexdigest() != diff_id.hex:
                raise DigestMismatch(
                    f"layer {name or diff_id}: its content does not hash to {diff_id}",
                    expected=str(diff_id),
                    actual=f"sha256:{hasher.hexdigest()}",
                )
            os.rename(tmp, self._tar(diff_id))
        finally:
            tmp.unlink(missing_ok=True)

    def ensure(self, layers: Sequence[Layer]) -> list[Digest]:
        for layer in layers:
            if not self.has(layer.diff_id):
                self.apply(layer.diff_id, layer.open_uncompressed, name=str(layer.digest))
        return [layer.diff_id for layer in layers]

    def _extract(self, diff_ids: Sequence[Digest], target: Path) -> None:
        for diff_id in diff_ids:
            extract_layer(self._tar(diff_id), target, compression="none", xattrs=True)

    def prepare(self, parents: Sequence[Digest], *, readonly: bool = False) -> RootSnapshot:
        for p in parents:
            if not self.has(p):
                raise NotFound(f"no snapshot of layer {p}", hint="apply the layer first")
        wanted = tuple(parents)
        if readonly:
            view = self.work / f"view-{uuid.uuid4().hex[:12]}"
            view.mkdir()
            try:
                self._extract(wanted, view)
            except BaseException:
                shutil.rmtree(view, ignore_errors=True)
                raise
            return RootSnapshot(self, wanted, view, readonly=True)
        self._lock.acquire()  # released by commit or remove
        try:
            holds = self._holds
            if holds is not None and wanted[: len(holds)] == holds:
                todo = wanted[len(holds) :]
            else:
                self._empty_root()
                todo = wanted
            self._holds = None
            self._extract(todo, self.root)
            self._holds = wanted
            if todo or not self.state:
                self.state = scan_root(self.root, self.excluded())
        except BaseException:
            self._lock.release()
            raise
        return RootSnapshot(self, wanted, self.root, readonly=False)

    def _empty_root(self) -> None:
        """Remove everything under the root but the mount points in it."""
        keep = mount_points_under(self.root)

        def empty(directory: Path, rel: str) -> bool:
            kept = False
            with os.scandir(directory) as it:
                entries = list(it)
            for e in entries:
                sub = f"{rel}/{e.name}" if rel else e.name
                if sub in keep:
                    kept = True
                elif any(k.startswith(sub + "/") for k in keep):
                    kept = empty(Path(e.path), sub) or kept
                elif e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
            if not kept and rel:
                os.rmdir(directory)
            return kept

        empty(self.root, "")
        self.state = {}

    def _own(self, snapshot: Snapshot) -> RootSnapshot:
        if not isinstance(snapshot, RootSnapshot) or snapshot.owner is not self:
            raise NotFound(f"snapshot {snapshot.id} was not prepared by {self.directory}")
        return snapshot

    def lowers(self, snapshot: Snapshot) -> list[Path]:
        """None: the comparison reads the record, not the layers below."""
        self._own(snapshot)
        return []

    def commit(self, snapshot: Snapshot, diff_id: Digest) -> None:
        """Keep the step's changes as the snapshot of ``diff_id``: the root holds it."""
        own = self._own(snapshot)
        own.unmount()
        try:
            if not self.has(diff_id):
                tmp = self.layers / f".tmp-{uuid.uuid4().hex[:12]}"
                with open(tmp, "wb") as out:
                    write_layer(upper_layer_entries(own.upper), out, compression="none")
                os.rename(tmp, self._tar(diff_id))
            self._holds = (*own.parents, diff_id)
            self.state = self._settle(own)
        finally:
            self._finish(own, clean=True)

    def remove(self, snapshot: Snapshot) -> None:
        own = self._own(snapshot)
        if own.readonly:
            own.done = True
            shutil.rmtree(own.merged, ignore_errors=True)
            return
        clean = own.changes is not None and (not own.changes or _is_empty(own.upper))
        if clean:
            self.state = self._settle(own)
        else:
            self._holds = None  # changed by a step that made no layer: start over
        self._finish(own, clean=clean)

    def _settle(self, own: RootSnapshot) -> dict[str, FileState]:
        """The record after ``own``: what the Differ dropped from its upper (stand-ins)
        taken out of the root too, so the root holds exactly its layers."""
        state = dict(own.after)
        changes = own.changes or Changes()
        for rel in reversed(changes.changed):
            if rel in state and not os.path.lexists(own.upper / rel):
                path = self.root / rel
                with contextlib.suppress(OSError):
                    if state[rel].is_dir:
                        os.rmdir(path)
                    else:
                        os.unlink(path)
                    del state[rel]
        return state

    def _finish(self, own: RootSnapshot, *, clean: bool) -> None:
        del clean
        own.done = True
        shutil.rmtree(own.upper, ignore_errors=True)
        parents_file(own.upper).unlink(missing_ok=True)
        self._lock.release()

    def usage(self) -> int:
        return sum(p.stat().st_size for p in self.layers.glob("*.tar"))

    def prune(self, keep: Collection[Digest]) -> int:
        wanted = {d.hex for d in keep}
        freed = 0
        for path in self.layers.glob("*.tar"):
            if path.stem not in wanted:
                freed += path.stat().st_size
                path.unlink()
        return freed

    def cleanup_stale(self) -> list[str]:
        """Nothing outlives a build: its directory is its own and removed with it."""
        return []
