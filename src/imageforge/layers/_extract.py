"""Safe extraction of layers into a directory, applying OCI whiteouts (like ``umoci unpack``).

Every path is resolved inside the target one component at a time through directory file
descriptors opened with ``O_NOFOLLOW``, so no symlink is ever followed: an entry whose
parent inside the target is a symlink is refused, whatever the symlink points to. The
descriptors of directories already resolved are kept for the next entries (tar lists a
directory's children together) and all dropped as soon as anything is removed or
replaced, so a path that a later entry turns into a symlink is resolved afresh.

Symlinks, hardlinks, fifos, devices and directories are made under their own names (the
kernel makes each whole); regular files are written under a temporary name and renamed
into place once complete, so no file is ever half-written under its real name, unless
the target is ``fresh`` (a new directory the caller discards unless the extraction
succeeds), where they too are made under their names. A name that exists already is
replaced through a temporary name and a rename.
"""

from __future__ import annotations

import enum
import errno
import itertools
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from imageforge.errors import InvalidArgument, Unsupported
from imageforge.layers._compression import CHUNK, Readable
from imageforge.layers._model import Compression, Entry, EntryType, LayerInfo
from imageforge.layers._read import LayerReader, open_layer
from imageforge.layers._whiteout import OVERLAY_OPAQUE_XATTR, WhiteoutKind, parse_whiteout
from imageforge.oci import Digest

__all__ = ["ExtractResult", "LayerSource", "Skipped", "extract_layer", "extract_layers"]

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP_PREFIX: Final = ".imageforge-tmp-"
_NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Directory descriptors kept between entries: enough for tar's depth-first order, far
# below any descriptor limit.
_MAX_KEPT_DIRS: Final = 64
_counter = itertools.count()
# What the kernel answers for an entry no file can be: a name component or symlink
# target longer than the filesystem allows (ENAMETOOLONG), an xattr name or value it
# refuses (ERANGE, E2BIG, ENOTSUP, EINVAL). They are the layer's fault, not the machine's.
_REFUSED_BY_THE_KERNEL: Final = frozenset(
    {errno.ENAMETOOLONG, errno.ERANGE, errno.E2BIG, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EINVAL}
)


@dataclass(frozen=True)
class Skipped:
    """An entry, or part of one, not reproduced in the target, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ExtractResult:
    """One extracted layer: its digests and sizes, how many entries it had, and what
    could not be reproduced (device nodes and setuid bits when not root)."""

    info: LayerInfo
    entries: int
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class LayerSource:
    """A layer to extract: a file path or an open binary reader, with the digest (and
    size) it must have, its media type, and a name for messages."""

    source: str | os.PathLike[str] | Readable
    digest: Digest | str | None = None
    size: int | None = None
    media_type: str | None = None
    name: str | None = None


class _Made(enum.Enum):
    MADE = "made"
    EXISTS = "exists"  # the name is taken: nothing made
    SKIPPED = "skipped"  # a device node this process may not make


class _Extractor:
    def __init__(
        self,
        root_fd: int,
        what: str,
        xattrs: bool,
        overlay: bool = False,
        opaque_xattr: str = OVERLAY_OPAQUE_XATTR,
        fresh: bool = False,
    ) -> None:
        self.root_fd = root_fd
        self.what = what
        self.xattrs = xattrs
        self.overlay = overlay
        self.opaque_xattr = opaque_xattr
        self.fresh = fresh
        self.is_root = os.geteuid() == 0
        self.written: set[str] = set()  # paths this layer made (with their parents)
        self.dirs: list[Entry] = []  # metadata set last: children change a dir's mtime
        self.skipped: list[Skipped] = []
        # path inside the target -> a descriptor of that directory, opened by walking
        # from the root without following symlinks; valid until anything is removed
        self.kept: dict[str, int] = {}
        self.stale: list[int] = []  # forgotten, closed once the current entry is done

    def _refuse(self, path: str, why: str) -> InvalidArgument:
        return InvalidArgument(
            f"{self.what}: entry {path!r}: {why}",
            hint="the layer is malformed or hostile; nothing outside the target was written",
        )

    def _mark(self, path: str) -> None:
        """Note ``path`` and its parents as made by this layer (``written`` always holds
        the parents of what it holds, so the walk up stops at the first one known)."""
        written = self.written
        while path not in written:
            written.add(path)
            cut = path.rfind("/")
            if cut < 0:
                return
            path = path[:cut]

    def forget_dirs(self) -> None:
        """Stop using the kept directory descriptors: called before anything in the
        target is removed or replaced, after which a kept path might name another file.
        They stay open until the current entry is done (:meth:`close_stale`): the entry
        being placed may be working in one of them."""
        self.stale.extend(self.kept.values())
        self.kept.clear()

    def close_stale(self) -> None:
        stale = self.stale
        while stale:
            os.close(stale.pop())

    def close(self) -> None:
        self.forget_dirs()
        self.close_stale()

    def _open_dir(self, parts: list[str], path: str, *, create: bool) -> int | None:
        """A descriptor of the directory ``parts`` inside the root, never following a
        symlink; None if it does not exist (or is not a directory) and not ``create``.
        The descriptor is borrowed: it stays open at least until the current entry is
        done (:meth:`close_stale`) and the caller must not close it."""
        if not parts:
            return self.root_fd
        kept = self.kept
        where = "/".join(parts)
        fd = kept.get(where)
        if fd is not None:
            return fd
        # the deepest kept parent, else the root
        start = len(parts) - 1
        fd = self.root_fd
        while start > 0:
            found = kept.get("/".join(parts[:start]))
            if found is not None:
                fd = found
                break
            start -= 1
        if len(kept) + len(parts) - start > _MAX_KEPT_DIRS:
            self.forget_dirs()
            start, fd = 0, self.root_fd
        for i in range(start, len(parts)):
            comp = parts[i]
            where = "/".join(parts[: i + 1])
            try:
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                os.mkdir(comp, 0o755, dir_fd=fd)
                self._mark(where)
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise self._refuse(
                        path,
                        f"its parent {where!r} is a symlink; "
                        "refusing to write or delete through it",
                    ) from None
                if not create:
                    return None
                raise self._refuse(path, f"its parent {where!r} is not a directory") from None
            kept[where] = nfd
            fd = nfd
        return fd

    # -- metadata ---------------------------------------------------------------------
    def _mode(self, entry: Entry) -> int:
        if self.is_root:
            return entry.mode & 0o7777
        if entry.mode & 0o6000:
            self.skipped.append(Skipped(entry.path, "setuid/setgid bits dropped: not root"))
        return entry.mode & 0o1777

    def _unmapped(self, entry: Entry) -> Unsupported:
        return Unsupported(
            f"{self.what}: entry {entry.path!r} is owned by {entry.uid}:{entry.gid}, an id "
            "this user namespace does not map",
            hint="give the user a larger range in /etc/subuid and /etc/subgid "
            "(usermod --add-subuids/--add-subgids), or build as root",
        )

    def _set_meta_fd(self, fd: int, entry: Entry) -> None:
        if self.is_root:
            try:
                os.fchown(fd, entry.uid, entry.gid)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: an id without a mapping
                    raise
                raise self._unmapped(entry) from None
        os.fchmod(fd, self._mode(entry))
        if self.xattrs:
            for key, value in entry.xattrs.items():
                os.setxattr(fd, key, value)
        ns = entry.mtime * 1_000_000_000
        os.utime(fd, ns=(ns, ns))

    def _set_meta_at(self, dfd: int, name: str, entry: Entry) -> None:
        """Metadata of a non-regular file (symlink, fifo, device) by name in ``dfd``."""
        if self.is_root:
            try:
                os.chown(name, entry.uid, entry.gid, dir_fd=dfd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                raise self._unmapped(entry) from None
        if entry.type is not EntryType.SYMLINK:
            os.chmod(name, self._mode(entry), dir_fd=dfd, follow_symlinks=False)
        ns = entry.mtime * 1_000_000_000
        os.utime(name, ns=(ns, ns), dir_fd=dfd, follow_symlinks=False)

    # -- placing entries --------------------------------------------------------------
    def _replace(self, dfd: int, tmp: str, name: str) -> None:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            self.forget_dirs()
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dfd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)

    def _remove(self, dfd: int, name: str) -> None:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        self.forget_dirs()
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=dfd)
        else:
            os.unlink(name, dir_fd=dfd)

    def apply(self, entry: Entry, reader: LayerReader) -> None:
        whiteout = parse_whiteout(entry.path)
        if whiteout is not None and self.overlay:
            self._overlay_marker(entry.path, whiteout.target, whiteout.kind)
            return
        if whiteout is not None:
            if whiteout.kind is WhiteoutKind.DELETE:
                self._delete(entry.path, whiteout.target)
            elif whiteout.kind is WhiteoutKind.OPAQUE:
                self._opaque(entry.path, whiteout.target)
            return
        if entry.path == ".":
            self.dirs.append(entry)
            return
        parts = entry.path.split("/")
        name = parts.pop()
        dfd = self._open_dir(parts, entry.path, create=True)
        assert dfd is not None
        self._place(dfd, name, entry, reader)

    def _place(self, dfd: int, name: str, entry: Entry, reader: LayerReader) -> None:
        kind = entry.type
        if kind is EntryType.DIR:
            try:
                os.mkdir(name, 0o700, dir_fd=dfd)
            except FileExistsError:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    self.forget_dirs()
                    os.unlink(name, dir_fd=dfd)
                    os.mkdir(name, 0o700, dir_fd=dfd)
            self.dirs.append(entry)
            self._mark(entry.path)
            return
        if kind in (EntryType.CHAR, EntryType.BLOCK) and not self.is_root:
            self.skipped.append(Skipped(entry.path, "device node not created: not root"))
            return
        if kind is not EntryType.FILE or self.fresh:
            made = self._make(dfd, name, entry, reader)
            if made is not _Made.EXISTS:
                if made is _Made.MADE:
                    self._mark(entry.path)
                return
        tmp = f"{_TMP_PREFIX}{os.getpid()}-{next(_counter)}"
        made = self._make(dfd, tmp, entry, reader)
        if made is _Made.EXISTS:
            raise FileExistsError(errno.EEXIST, "a temporary name is taken", tmp)
        if made is _Made.SKIPPED:
            return
        try:
            self._replace(dfd, tmp, name)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except FileNotFoundError:
                pass
            raise
        self._mark(entry.path)

    def _make(self, dfd: int, name: str, entry: Entry, reader: LayerReader) -> _Made:
        """Make ``entry`` (not a directory) as ``name`` in ``dfd`` with its metadata,
        unless ``name`` exists. What fails half-way (content, owner, mode, times) is
        removed again."""
        kind = entry.type
        try:
            if kind is EntryType.FILE:
                fd = os.open(name, _NEW_FILE, 0o600, dir_fd=dfd)
                try:
                    with open(fd, "wb") as f:
                        while chunk := reader.read(CHUNK):
                            f.write(chunk)
                        f.flush()
                        self._set_meta_fd(f.fileno(), entry)
                except BaseException:
                    os.unlink(name, dir_fd=dfd)
                    raise
                return _Made.MADE
            if kind is EntryType.SYMLINK:
                os.symlink(entry.linkname, name, dir_fd=dfd)
            elif kind is EntryType.HARDLINK:
                self._hardlink(dfd, name, entry)
                return _Made.MADE
            elif kind is EntryType.FIFO:
                os.mkfifo(name, 0o600, dir_fd=dfd)
            else:
                fmt = stat.S_IFCHR if kind is EntryType.CHAR else stat.S_IFBLK
                dev = os.makedev(entry.devmajor, entry.devminor)
                try:
                    os.mknod(name, fmt | 0o600, dev, dir_fd=dfd)
                except PermissionError:
                    # root in a user namespace: the kernel makes no device nodes there
                    self.skipped.append(
                        Skipped(entry.path, "device node not created: not permitted here")
                    )
                    return _Made.SKIPPED
        except FileExistsError:
            return _Made.EXISTS
        try:
            self._set_meta_at(dfd, name, entry)
        except BaseException:
            os.unlink(name, dir_fd=dfd)
            raise
        return _Made.MADE

    def _hardlink(self, dfd: int, name: str, entry: Entry) -> None:
        parts = entry.linkname.split("/")
        missing = self._refuse(
            entry.path, f"hardlink target {entry.linkname!r} does not exist inside the target"
        )
        tfd = self._open_dir(parts[:-1], entry.path, create=False)
        if tfd is None:
            raise missing
        try:
            st = os.stat(parts[-1], dir_fd=tfd, follow_symlinks=False)
        except FileNotFoundError:
            raise missing from None
        if stat.S_ISDIR(st.st_mode):
            raise self._refuse(entry.path, f"hardlink target {entry.linkname!r} is a directory")
        os.link(parts[-1], name, src_dir_fd=tfd, dst_dir_fd=dfd, follow_symlinks=False)

    # -- whiteouts --------------------------------------------------------------------
    def _overlay_marker(self, path: str, target: str, kind: WhiteoutKind) -> None:
        """A whiteout as overlayfs spells it in a layer dir used as a lowerdir: a
        character device 0:0 for a deletion, ``trusted.overlay.opaque=y`` (or the
        ``opaque_xattr`` given, ``user.overlay.opaque`` for userxattr mounts) on an opaque
        directory."""
        parts = [] if target == "." else target.split("/")
        if kind is WhiteoutKind.OPAQUE:
            dfd = self._open_dir(parts, path, create=True)
            assert dfd is not None
            os.setxattr(dfd, self.opaque_xattr, b"y")
            return
        if target in self.written:
            return
        dfd = self._open_dir(parts[:-1], path, create=True)
        assert dfd is not None
        self._remove(dfd, parts[-1])
        os.mknod(parts[-1], stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dfd)

    def _delete(self, path: str, target: str) -> None:
        if target in self.written:  # whiteouts hide lower layers only
            return
        parts = target.split("/")
        dfd = self._open_dir(parts[:-1], path, create=False)
        if dfd is None:
            return
        self._remove(dfd, parts[-1])

    def _opaque(self, path: str, directory: str) -> None:
        parts = [] if directory == "." else directory.split("/")
        dfd = self._open_dir(parts, path, create=False)
        if dfd is None:
            return
        self._prune(dfd, "" if directory == "." else directory + "/")

    def _prune(self, dfd: int, prefix: str) -> None:
        """Remove what lower layers put under ``dfd``, keeping this layer's entries."""
        for name in os.listdir(dfd):
            child = prefix + name
            if child not in self.written:
                self._remove(dfd, name)
                continue
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                cfd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
                try:
                    self._prune(cfd, child + "/")
                finally:
                    os.close(cfd)

    def finish(self) -> None:
        for entry in reversed(self.dirs):
            parts = [] if entry.path == "." else entry.path.split("/")
            fd = self._open_dir(parts, entry.path, create=False)
            if fd is not None:  # else replaced by a non-directory later in the layer
                self._set_meta_fd(fd, entry)
            self.close_stale()


def _extract(
    reader: LayerReader,
    root_fd: int,
    xattrs: bool,
    overlay: bool = False,
    opaque_xattr: str = OVERLAY_OPAQUE_XATTR,
    fresh: bool = False,
) -> ExtractResult:
    extractor = _Extractor(
        root_fd, f"layer {reader.name}", xattrs, overlay, opaque_xattr, fresh=fresh
    )
    count = 0
    try:
        for entry in reader:
            count += 1
            try:
                extractor.apply(entry, reader)
            except OSError as exc:
                if exc.errno in _REFUSED_BY_THE_KERNEL:
                    raise extractor._refuse(
                        entry.path, f"it cannot be made on this filesystem: {exc.strerror}"
                    ) from None
                exc.add_note(f"while extracting {entry.path!r} of layer {reader.name}")
                raise
            finally:
                extractor.close_stale()
        info = reader.finish()
        extractor.finish()
    finally:
        extractor.close()
    return ExtractResult(info, count, tuple(extractor.skipped))


def extract_layer(
    source: str | os.PathLike[str] | Readable,
    target: str | os.PathLike[str],
    *,
    expected: Digest | str | None = None,
    size: int | None = None,
    media_type: str | None = None,
    compression: Compression | None = None,
    name: str | None = None,
    xattrs: bool = False,
    overlay_whiteouts: bool = False,
    opaque_xattr: str = OVERLAY_OPAQUE_XATTR,
    fresh: bool = False,
) -> ExtractResult:
    """Extract one layer into the existing directory ``target``, applying its whiteouts
    to what is already there — or, with ``overlay_whiteouts``, writing them as overlayfs
    markers (a 0:0 character device, ``trusted.overlay.opaque``) so ``target`` can serve
    as an overlay lowerdir stacked on the layers below. ``opaque_xattr`` names the
    opaque marker: ``user.overlay.opaque`` for overlays mounted with ``userxattr`` (in a
    user namespace).

    Refused with :class:`InvalidArgument` naming the layer and the entry: ``..``
    components, an entry (or whiteout) whose parent inside the target is a symlink or
    not a directory, a hardlink whose target is not an existing non-directory inside
    the target. A leading ``/`` is stripped, as tar does. Owners and setuid/setgid bits
    are restored only as root; device nodes are created only as root, otherwise skipped
    and listed in :attr:`ExtractResult.skipped`. xattrs are restored only if ``xattrs``.

    On any error the entries extracted before the failing one stay in ``target``
    (directories possibly with their provisional mode 0700 and mtime); no file is left
    half-written under its name. The blob digest is known only at the end of the one
    pass, so on :class:`DigestMismatch` the target holds the unverified layer: callers
    extract into a fresh directory and discard it on error.

    ``fresh`` says ``target`` is such a directory, new and discarded unless the
    extraction succeeds (a snapshot being unpacked): regular files are then written
    under their own names, not a temporary name renamed into place (one that fails
    half-way is still removed, but a crash may leave it).
    """
    root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with open_layer(
            source,
            name=name,
            expected=expected,
            size=size,
            media_type=media_type,
            compression=compression,
        ) as reader:
            return _extract(reader, root_fd, xattrs, overlay_whiteouts, opaque_xattr, fresh=fresh)
    finally:
        os.close(root_fd)


def extract_layers(
    layers: Iterable[LayerSource], target: str | os.PathLike[str], *, xattrs: bool = False
) -> list[ExtractResult]:
    """Extract ``layers`` in order (lowest first) into ``target``, each one's whiteouts
    hiding what the ones before it put there: the image's root filesystem."""
    return [
        extract_layer(
            layer.source,
            target,
            expected=layer.digest,
            size=layer.size,
            media_type=layer.media_type,
            name=layer.name,
            xattrs=xattrs,
        )
        for layer in layers
    ]
