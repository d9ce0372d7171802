"""An overlayfs snapshotter, in containerd's model: committed snapshots are layer
directories in overlay format (stacked as lowerdirs), an active snapshot is an overlay
mount of some of them with a fresh upper dir that a build step writes into.

Layout under ``root``::

    l/<16 hex of the diff_id>/   a committed snapshot (one layer, overlay whiteouts)
    l/.tmp-*/                    a layer being unpacked (renamed into place when verified)
    l/empty/                     the lowerdir of a snapshot with no parents
    active/<id>-<pid>/{upper,work,merged}   a prepared snapshot and the process it is for

Lowerdirs are given to the kernel relative to ``l/`` (the mount is made with that as the
working directory), so ~200 parents fit in the kernel's one-page mount options, where
absolute paths would allow about 40. Mounts use ``index=off,redirect_dir=off,
metacopy=off`` so the upper dir is a plain tree the Differ understands.

Writable mounts are ``volatile`` (Linux 5.10+; without it where the kernel refuses it):
overlayfs then skips syncing the upper filesystem, which it otherwise does for the
whole of it on every unmount (~7 ms a step on an idle ext4, more when other writers
have dirty data there). Nothing relies on that sync: what is kept of a step is its
layer, written and fsynced as a blob by the Differ and ``ingest_layer``, and the upper
dir committed as a snapshot, which like every unpacked layer is a cache as durable as
the page cache makes it. (``fsync`` by a process in the mount returns without syncing
too: a container's writable layer goes with the container, and a step's as above.)

:class:`Snapshotter` is the seam (containerd's snapshotter), :class:`OverlaySnapshotter`
its implementation, with the contract suite ``imageforge.testing.SnapshotterContract``.
A store's snapshotter is made in one place, :func:`store_snapshotter`, under the folder
the store names for it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, ClassVar, Protocol

from imageforge.errors import InvalidArgument, NotFound, Unavailable
from imageforge.layers import OVERLAY_OPAQUE_XATTR, USERNS_OVERLAY_OPAQUE_XATTR, extract_layer
from imageforge.oci import Digest, Layer
from imageforge.runtime._mount import MNT_DETACH, mount, umount
from imageforge.runtime._userns import in_user_namespace
from imageforge.store import Store

__all__ = ["ActiveSnapshot", "OverlaySnapshotter", "Snapshot", "Snapshotter", "store_snapshotter"]

_OPTIONS = "index=off,redirect_dir=off,metacopy=off"
# userxattr refuses redirect_dir=off and turns redirects to "nofollow" itself (never made).
_USERNS_OPTIONS = "index=off,metacopy=off,userxattr"
_MAX_OPTIONS = 4000  # the kernel copies one page of mount data
_CWD_LOCK = threading.Lock()
_VOLATILE = ",volatile"

Opener = Callable[[], AbstractContextManager[IO[bytes]] | IO[bytes]]


def _short(diff_id: Digest) -> str:
    return diff_id.hex[:16]


def _mounted(path: Path) -> bool:
    target = str(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return False


def _in_use(mount_point: Path) -> bool:
    """Whether a live process has its root or working directory on the filesystem
    mounted at ``mount_point`` (a container's root is its overlay; seen from here by
    device, as the process's own view of the path is ``/``)."""
    try:
        device = mount_point.stat().st_dev
    except OSError:
        return False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for link in ("root", "cwd"):
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{pid}/{link}").st_dev == device:
                    return True
    return False


def _umount(path: Path) -> None:
    if not _mounted(path):
        return
    try:
        umount(str(path))
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            umount(str(path), MNT_DETACH)
        elif exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise


class Snapshot(Protocol):
    """A prepared snapshot: ``merged`` is the rootfs to run in or copy into, ``upper``
    where its changes land (read it after :meth:`unmount`); ``parents`` the committed
    snapshots below it, bottom first."""

    @property
    def id(self) -> str: ...

    @property
    def parents(self) -> tuple[Digest, ...]: ...

    @property
    def merged(self) -> Path: ...

    @property
    def upper(self) -> Path: ...

    def unmount(self) -> None:
        """Unmount (idempotent); ``upper`` then holds the changes."""
        ...

    def __enter__(self) -> Snapshot: ...

    def __exit__(self, *exc: object) -> None:
        """Remove the snapshot unless it was committed."""
        ...


class Snapshotter(Protocol):
    """Unpacked layers (committed snapshots, one per diff_id) and the mounts of their
    stacks a step or a container runs in (after containerd's snapshotter)."""

    def has(self, diff_id: Digest) -> bool: ...

    def apply(self, diff_id: Digest, open_uncompressed: Opener, *, name: str = "") -> None:
        """Unpack one layer (its uncompressed tar, which must hash to ``diff_id``) as a
        committed snapshot; atomic: a failure leaves nothing :meth:`has` sees."""
        ...

    def ensure(self, layers: Sequence[Layer]) -> list[Digest]:
        """Apply the layers that have no snapshot yet; their diff_ids, bottom first."""
        ...

    def prepare(self, parents: Sequence[Digest], *, readonly: bool = False) -> Snapshot:
        """Mount ``parents`` (bottom first), writable over a fresh upper unless
        ``readonly``."""
        ...

    def lowers(self, snapshot: Snapshot) -> list[Path]:
        """The directories of ``snapshot``'s parents, topmost first (for the Differ)."""
        ...

    def commit(self, snapshot: Snapshot, diff_id: Digest) -> None:
        """Unmount and keep its changes as the committed snapshot of ``diff_id``."""
        ...

    def remove(self, snapshot: Snapshot) -> None:
        """Unmount and delete a prepared snapshot."""
        ...

    def usage(self) -> int:
        """Bytes the committed snapshots take."""
        ...

    def prune(self, keep: Collection[Digest]) -> int:
        """Delete committed snapshots of layers not in ``keep``; the bytes freed."""
        ...

    def cleanup_stale(self) -> list[str]:
        """Remove prepared snapshots whose process is gone; their ids."""
        ...


class ActiveSnapshot:
    """A mounted overlay: ``merged`` is the rootfs to run in or copy into, ``upper``
    what changed (read it after :meth:`unmount`)."""

    def __init__(self, snapshotter: OverlaySnapshotter, id: str, parents: tuple[Digest, ...]):
        self.snapshotter = snapshotter
        self.id = id
        self.parents = parents
        self.dir = snapshotter.root / "active" / id
        self.merged = self.dir / "merged"
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.done = False

    def unmount(self) -> None:
        """Unmount the overlay (idempotent); ``upper`` then holds the step's changes."""
        _umount(self.merged)

    def __enter__(self) -> ActiveSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            self.snapshotter.remove(self)


class OverlaySnapshotter:
    volatile_refused: ClassVar[bool] = False  # this kernel's overlayfs predates it

    def __init__(self, root: Path, *, userxattr: bool | None = None) -> None:
        """``userxattr`` (default: whether this process is in a user namespace) mounts
        with overlay's ``userxattr`` and marks opaque directories with
        ``user.overlay.opaque``: in a user namespace ``trusted.*`` xattrs are off limits."""
        # Absolute: mounts name lowerdirs relative to the layers dir after a chdir, so a
        # relative root (``--root store``) would name the mount point from the wrong place.
        root = root.absolute()
        self.root = root
        self.userxattr = in_user_namespace() if userxattr is None else userxattr
        self._options = _USERNS_OPTIONS if self.userxattr else _OPTIONS
        self.layers = root / "l"
        self.active_dir = root / "active"
        for d in (self.layers, self.active_dir, self.layers / "empty"):
            d.mkdir(parents=True, exist_ok=True)

    def path(self, diff_id: Digest) -> Path:
        return self.layers / _short(diff_id)

    def has(self, diff_id: Digest) -> bool:
        return self.path(diff_id).is_dir()

    def apply(self, diff_id: Digest, open_uncompressed: Opener, *, name: str = "") -> None:
        """Unpack one layer (its uncompressed tar, which must hash to ``diff_id``) as a
        committed snapshot. Atomic: a failure or crash leaves no snapshot ``has`` sees."""
        if self.has(diff_id):
            return
        tmp = self.layers / f".tmp-{uuid.uuid4().hex[:12]}"
        tmp.mkdir(mode=0o755)
        try:
            opened = open_uncompressed()
            with (
                opened
                if isinstance(opened, AbstractContextManager)
                else contextlib.nullcontext(opened) as stream
            ):
                extract_layer(
                    stream,
                    tmp,
                    expected=diff_id,
                    compression="none",
                    name=name or str(diff_id),
                    xattrs=True,
                    overlay_whiteouts=True,
                    fresh=True,  # renamed into place only once complete
                    opaque_xattr=(
                        USERNS_OVERLAY_OPAQUE_XATTR if self.userxattr else OVERLAY_OPAQUE_XATTR
                    ),
                )
            try:
                os.rename(tmp, self.path(diff_id))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                shutil.rmtree(tmp)  # another process committed it first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def ensure(self, layers: Sequence[Layer]) -> list[Digest]:
        """Apply every layer of an image that has no snapshot yet; its diff_ids, bottom
        first, ready for :meth:`prepare`."""
        for layer in layers:
            if not self.has(layer.diff_id):
                self.apply(layer.diff_id, layer.open_uncompressed, name=str(layer.digest))
        return [layer.diff_id for layer in layers]

    def prepare(self, parents: Sequence[Digest], *, readonly: bool = False) -> ActiveSnapshot:
        """Mount the ``parents`` (bottom first) with a fresh upper dir."""
        for p in parents:
            if not self.has(p):
                raise NotFound(f"no snapshot of layer {p}", hint="apply the layer first")
        # the owner's pid in the name: no file to write (and delete) per snapshot, and
        # no moment when cleanup_stale could see the directory without its owner
        active = ActiveSnapshot(self, f"{uuid.uuid4().hex[:12]}-{os.getpid()}", tuple(parents))
        active.dir.mkdir(parents=True)
        active.merged.mkdir()
        lowers = [_short(p) for p in reversed(parents)] or ["empty"]
        if readonly:
            if len(lowers) == 1:
                lowers.append("empty")
            options = f"lowerdir={':'.join(lowers)},{self._options}"
        else:
            active.upper.mkdir(mode=0o755)
            active.work.mkdir()
            options = (
                f"lowerdir={':'.join(lowers)},upperdir={active.upper},"
                f"workdir={active.work},{self._options}"
            )
        if len(options) > _MAX_OPTIONS:
            shutil.rmtree(active.dir)
            raise InvalidArgument(
                f"{len(parents)} layers are more than one overlay mount can stack here",
                hint="squash some layers of the base image",
            )
        try:
            self._mount(active.merged, options, volatile=not readonly)
        except OSError as exc:
            shutil.rmtree(active.dir, ignore_errors=True)
            raise Unavailable(
                f"cannot mount an overlay under {self.root}: {exc.strerror}",
                hint="run 'imageforge system check' to see whether overlayfs works here",
            ) from exc
        except BaseException:
            shutil.rmtree(active.dir, ignore_errors=True)
            raise
        return active

    def _mount(self, merged: Path, options: str, *, volatile: bool) -> None:
        """Mount the overlay at ``merged``, lowerdirs named relative to the layers dir;
        ``volatile`` where this kernel has it."""
        with _CWD_LOCK:
            cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.chdir(self.layers)
                if volatile and not OverlaySnapshotter.volatile_refused:
                    try:
                        mount("overlay", str(merged), "overlay", 0, options + _VOLATILE)
                        return
                    except OSError as exc:
                        if exc.errno != errno.EINVAL:
                            raise
                    # raises again if the option was not what the kernel refused
                    mount("overlay", str(merged), "overlay", 0, options)
                    OverlaySnapshotter.volatile_refused = True
                    return
                mount("overlay", str(merged), "overlay", 0, options)
            finally:
                os.fchdir(cwd)
                os.close(cwd)

    def _own(self, snapshot: Snapshot) -> ActiveSnapshot:
        if not isinstance(snapshot, ActiveSnapshot) or snapshot.snapshotter is not self:
            raise InvalidArgument(f"snapshot {snapshot.id} was not prepared by {self.root}")
        return snapshot

    def lowers(self, snapshot: Snapshot) -> list[Path]:
        return [self.path(p) for p in reversed(snapshot.parents)]

    def commit(self, snapshot: Snapshot, diff_id: Digest) -> None:
        """Unmount and keep the upper dir as the committed snapshot of ``diff_id``."""
        active = self._own(snapshot)
        active.unmount()
        target = self.path(diff_id)
        if not target.exists():
            try:
                os.rename(active.upper, target)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        active.done = True
        shutil.rmtree(active.dir, ignore_errors=True)

    def remove(self, snapshot: Snapshot) -> None:
        """Unmount and delete an active snapshot."""
        active = self._own(snapshot)
        active.unmount()
        active.done = True
        shutil.rmtree(active.dir, ignore_errors=True)

    def usage(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.layers):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
        return total

    def prune(self, keep: Collection[Digest]) -> int:
        """Delete committed snapshots of layers not in ``keep``; the bytes freed."""
        wanted = {_short(d) for d in keep} | {"empty"}
        freed = 0
        for entry in os.scandir(self.layers):
            if entry.name in wanted or entry.name.startswith(".tmp-"):
                continue
            for dirpath, _dirs, files in os.walk(entry.path):
                for name in files:
                    with contextlib.suppress(OSError):
                        freed += os.lstat(os.path.join(dirpath, name)).st_size
            shutil.rmtree(entry.path, ignore_errors=True)
        return freed

    def cleanup_stale(self) -> list[str]:
        """Remove active snapshots whose owning process is gone (a killed build or
        run), unless a live process still has its root or working directory in one (a
        container that outlived its owner): a mount in use is never touched."""
        removed: list[str] = []
        for entry in os.scandir(self.active_dir):
            pid = _owner_pid(Path(entry.path))
            if pid and Path(f"/proc/{pid}").exists():
                continue
            merged = Path(entry.path) / "merged"
            if _mounted(merged) and _in_use(merged):
                continue
            _umount(merged)
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
        for entry in os.scandir(self.layers):
            if entry.name.startswith(".tmp-"):
                shutil.rmtree(entry.path, ignore_errors=True)
        return removed


def _owner_pid(active: Path) -> int:
    """The pid of the process a prepared snapshot is for: the end of its name, or the
    ``owner`` file older versions wrote in it; 0 when neither says."""
    _, dash, suffix = active.name.rpartition("-")
    if dash and suffix.isdigit():
        return int(suffix)
    try:
        return int((active / "owner").read_text())
    except (OSError, ValueError):
        return 0


def store_snapshotter(store: Store) -> OverlaySnapshotter:
    """The snapshotter of ``store``: unpacked layers and step mounts under its
    ``snapshots/`` folder."""
    return OverlaySnapshotter(store.layout.snapshots)
