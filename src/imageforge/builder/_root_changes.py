"""How ``--isolation none`` finds a step's changes (see ``_rootdir``): a record of every
path under the root (:func:`scan_root`), the comparison of two records
(:func:`compare_states`), and the changes laid out as an upper dir in the OCI whiteout
format (:func:`write_upper`), read back as layer entries (:func:`upper_layer_entries`).

Type, mode, owner, size, mtime, inode, link target and xattrs decide; a file whose mtime
is within the filesystem's time granularity of the record (written in the same tick,
where mtime and size cannot tell) has its content hash compared too. Directories whose
only change is their mtime are no change (as the overlay Differ drops directories copied
up unchanged). No symlink is followed: the walk uses ``lstat``, hard links are made to
the link itself, and a file is read with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from imageforge.layers import (
    OPAQUE_WHITEOUT,
    WHITEOUT_PREFIX,
    ContentSource,
    Entry,
    opaque_whiteout_entry,
    tree_entries,
    whiteout_entry,
)

__all__ = [
    "ALWAYS_IGNORED",
    "Changes",
    "FileState",
    "compare_states",
    "mount_points_under",
    "parents_file",
    "scan_root",
    "upper_layer_entries",
    "write_upper",
]

ALWAYS_IGNORED = ("dev", "proc", "sys")
"""What ``--isolation none`` never compares: the runtime's mounts in the normal builder,
where what a step writes there never reaches a layer either."""
_GRANULARITY_NS = 2_000_000_000  # the coarsest mtime a filesystem keeps (FAT: 2 s)


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
