"""The filesystem of ``build --isolation none`` (Kaniko's way): ONE plain directory
holds the step's root filesystem, no overlay mount. A step's changes are found by
comparing the directory with the snapshot recorded before the step.

- :class:`RootSnapshotter` (a ``runtime.Snapshotter``): a committed snapshot is the
  layer's uncompressed tar under ``layers/``; :meth:`~RootSnapshotter.prepare` makes
  the root hold exactly its parents (the layers missing on top of what it holds are
  extracted; anything else empties it first) and records every path's metadata. A
  read-only snapshot (``COPY --from``, ``RUN --mount=from``) is the parents extracted into
  a directory of its own. One writable snapshot at a time: the root is one directory.
- :class:`RootSnapshot.unmount` compares the root with the record: type, mode, owner,
  size, mtime, inode, link target and xattrs decide; a file whose mtime is within the
  filesystem's time granularity of the record (written in the same tick, where mtime and
  size cannot tell) has its content hash compared too. Directories whose only change is
  their mtime are no change (as the overlay Differ drops directories copied up
  unchanged). The changes are laid out as an upper dir in the OCI whiteout format:
  changed files hard-linked from the root (same inode: metadata and content exact,
  nothing copied), directories with the root's metadata, ``.wh.<name>`` for a deleted
  path and ``.wh..wh..opq`` in a directory that was replaced (a new inode).
- :class:`RootDiffer` (a ``layers.Differ``) writes that upper dir as the layer through
  the one layer writer, its ``.wh.`` files as the whiteout entries the normal builder
  writes.

Never compared: ``dev``, ``proc`` and ``sys`` (the runtime's in the normal builder), every
mount point under the root in ``/proc/self/mountinfo`` (secrets, service-account tokens)
and the ``--ignore-path``s. No symlink is followed: the walk uses ``lstat``, hard links
are made to the link itself, and a read of a file opens it with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Protocol

from imageforge.errors import DigestMismatch, NotFound
from imageforge.layers import (
    OPAQUE_WHITEOUT,
    WHITEOUT_PREFIX,
    Compression,
    ContentSource,
    Entry,
    LayerInfo,
    extract_layer,
    opaque_whiteout_entry,
    tree_entries,
    whiteout_entry,
    write_layer,
)
from imageforge.oci import Digest, Layer
from imageforge.runtime import Snapshot

__all__ = [
    "ALWAYS_IGNORED",
    "FileState",
    "RootDiffer",
    "RootSnapshot",
    "RootSnapshotter",
    "mount_points_under",
    "scan_root",
]

ALWAYS_IGNORED = ("dev", "proc", "sys")
"""What ``--isolation none`` never compares: the runtime's mounts in the normal builder,
where what a step writes there never reaches a layer either."""
_GRANULARITY_NS = 2_000_000_000  # the coarsest mtime a filesystem keeps (FAT: 2 s)
_CHUNK = 1 << 20

Opener = Callable[[], contextlib.AbstractContextManager[IO[bytes]] | IO[bytes]]


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class FileState:
    """What the comparison knows of one path."""

    kind: int  # stat.S_IFMT
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ino: int
    link: str = ""
    xattrs: tuple[tuple[str, bytes], ...] = ()
    digest: str | None = None  # only where mtime cannot decide

    @property
    def is_dir(self) -> bool:
        return self.kind == stat.S_IFDIR

    def same_as(self, old: FileState) -> bool:
        """Whether nothing the metadata shows changed (a directory's mtime aside)."""
        if (self.kind, self.mode, self.uid, self.gid, self.ino, self.xattrs) != (
            old.kind,
            old.mode,
            old.uid,
            old.gid,
            old.ino,
            old.xattrs,
        ):
            return False
        if self.is_dir:
            return True
        return (self.size, self.mtime_ns, self.link) == (old.size, old.mtime_ns, old.link)


def _xattr_items(path: str) -> tuple[tuple[str, bytes], ...]:
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
        return tuple((n, os.getxattr(path, n, follow_symlinks=False)) for n in names)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.ENOENT):
            return ()
        raise


def _content_digest(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(fd, "rb", buffering=0) as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def mount_points_under(root: Path) -> set[str]:
    """The mount points under ``root`` (relative to it), from ``/proc/self/mountinfo``."""
    top = str(root.absolute()).rstrip("/") + "/"
    found: set[str] = set()
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].encode().decode("unicode_escape")
                if point.startswith(top):
                    found.add(point[len(top) :].strip("/"))
    except OSError:
        pass
    return found


def _excluded(rel: str, excluded: Collection[str]) -> bool:
    return any(rel == e or rel.startswith(e + "/") for e in excluded)


def scan_root(root: Path, excluded: Collection[str]) -> dict[str, FileState]:
    """Every path under ``root`` but the excluded subtrees -> its state, parents before
    children, names sorted; never following a symlink."""
    started = time.time_ns()
    out: dict[str, FileState] = {}
    stack: list[str] = [""]
    while stack:
        rel_dir = stack.pop()
        full_dir = os.path.join(root, rel_dir) if rel_dir else str(root)
        try:
            with os.scandir(full_dir) as it:
                names = sorted(e.name for e in it)
        except FileNotFoundError:
            continue
        subdirs: list[str] = []
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if _excluded(rel, excluded):
                continue
            full = os.path.join(full_dir, name)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            kind = stat.S_IFMT(st.st_mode)
            state = FileState(
                kind,
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                st.st_size if kind == stat.S_IFREG else 0,
                st.st_mtime_ns,
                st.st_ino,
                os.readlink(full) if kind == stat.S_IFLNK else "",
                _xattr_items(full),
            )
            if kind == stat.S_IFREG and st.st_mtime_ns > started - _GRANULARITY_NS:
                state = replace(state, digest=_content_digest(full))
            out[rel] = state
            if kind == stat.S_IFDIR:
                subdirs.append(rel)
        stack.extend(reversed(subdirs))
    return dict(sorted(out.items(), key=lambda item: item[0].split("/")))


@dataclass
class Changes:
    """A step's changes: paths added or changed (parents first), deleted paths (the
    topmost of each deleted subtree) and directories that were replaced."""

    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    opaque: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted)


def _under_any(rel: str, dirs: Collection[str]) -> bool:
    parent = rel
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in dirs:
            return True
    return False


def compare_states(
    root: Path,
    before: dict[str, FileState],
    after: dict[str, FileState],
    excluded: Collection[str] = (),
) -> Changes:
    """What changed from ``before`` to ``after`` (see the module's docstring). No
    directory above an ``excluded`` path is made opaque: that would hide what the layers
    below hold there, which the comparison never saw."""
    out = Changes()
    guarded = {"/".join(e.split("/")[:i]) for e in excluded for i in range(1, e.count("/") + 1)}
    for rel, new in after.items():
        old = before.get(rel)
        if old is None or _under_any(rel, out.opaque):
            out.changed.append(rel)
        elif new.is_dir and old.is_dir and new.ino != old.ino:
            if rel in guarded:  # replaced, but something below it is never compared
                if not new.same_as(replace(old, ino=new.ino)):
                    out.changed.append(rel)
                continue
            out.opaque.add(rel)  # removed and made again: what was in it is gone
            out.changed.append(rel)
        elif not new.same_as(old):
            out.changed.append(rel)
        elif old.digest is not None and new.kind == stat.S_IFREG:
            now = new.digest or _content_digest(os.path.join(root, rel))
            if now != old.digest:
                out.changed.append(rel)
    for rel in before:
        if rel in after:
            continue
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if parent and (parent not in after or not after[parent].is_dir):
            continue  # its parent went too (or became a file): that covers it
        if parent in out.opaque or _under_any(rel, out.opaque):
            continue
        out.deleted.append(rel)
    return out


def _link_or_copy(src: str, dst: str, state: FileState) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    if state.kind == stat.S_IFLNK:
        os.symlink(state.link, dst)
    else:
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, state.mode)
    os.lchown(dst, state.uid, state.gid)
    os.utime(dst, ns=(state.mtime_ns, state.mtime_ns), follow_symlinks=False)


def parents_file(upper: Path) -> Path:
    """Beside ``upper``: the directories in it that are only parents of changes."""
    return upper.with_name(upper.name + ".parents")


def write_upper(root: Path, upper: Path, after: dict[str, FileState], changes: Changes) -> None:
    """Lay ``changes`` out in ``upper`` (see the module's docstring); the directories
    that are there only as parents listed in :func:`parents_file`."""
    dirs: dict[str, FileState] = {}

    def parent_dirs(rel: str) -> None:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs[d] = after[d]
                os.makedirs(upper / d, exist_ok=True)

    upper.mkdir(parents=True, exist_ok=True)
    for rel in changes.changed:
        state = after[rel]
        parent_dirs(rel)
        if state.is_dir:
            dirs[rel] = state
            os.makedirs(upper / rel, exist_ok=True)
            if rel in changes.opaque:
                (upper / rel / OPAQUE_WHITEOUT).touch()
        else:
            _link_or_copy(os.path.join(root, rel), str(upper / rel), state)
    for rel in changes.deleted:
        parent_dirs(rel)
        parent, _, name = rel.rpartition("/")
        (upper / parent / f"{WHITEOUT_PREFIX}{name}").touch()
    only_parents = set(dirs) - set(changes.changed)
    parents_file(upper).write_text("".join(f"{d}\n" for d in sorted(only_parents)))
    for rel in sorted(dirs, key=lambda d: -d.count("/")):  # deepest first: times last
        state, path = dirs[rel], str(upper / rel)
        for key, value in state.xattrs:
            with contextlib.suppress(OSError):
                os.setxattr(path, key, value, follow_symlinks=False)
        os.lchown(path, state.uid, state.gid)
        os.chmod(path, state.mode)
        os.utime(path, ns=(state.mtime_ns, state.mtime_ns))


def upper_layer_entries(upper: Path) -> Iterator[tuple[Entry, ContentSource]]:
    """The layer entries of an upper dir in the OCI whiteout format."""
    for entry, content in tree_entries(upper, xattrs=True):
        parent, _, name = entry.path.rpartition("/")
        if name == OPAQUE_WHITEOUT:
            yield opaque_whiteout_entry(parent or ".", mtime=entry.mtime), None
        elif name.startswith(WHITEOUT_PREFIX):
            target = (
                f"{parent}/{name[len(WHITEOUT_PREFIX) :]}"
                if parent
                else name[len(WHITEOUT_PREFIX) :]
            )
            yield whiteout_entry(target, mtime=entry.mtime), None
        else:
            yield entry, content


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
