"""Safe extraction of layers into a directory, applying OCI whiteouts (like ``umoci unpack``).

Every path is resolved inside the target one component at a time through directory file
descriptors opened with ``O_NOFOLLOW``, so no symlink is ever followed: an entry whose
parent inside the target is a symlink is refused, whatever the symlink points to.
Content is written to a temporary name in its directory and renamed into place once
complete, so no file is ever half-written under its real name.
"""

from __future__ import annotations

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


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class _Extractor:
    def __init__(
        self,
        root_fd: int,
        what: str,
        xattrs: bool,
        overlay: bool = False,
        opaque_xattr: str = OVERLAY_OPAQUE_XATTR,
    ) -> None:
        self.root_fd = root_fd
        self.what = what
        self.xattrs = xattrs
        self.overlay = overlay
        self.opaque_xattr = opaque_xattr
        self.is_root = os.geteuid() == 0
        self.written: set[str] = set()  # paths this layer made (with their parents)
        self.dirs: list[Entry] = []  # metadata set last: children change a dir's mtime
        self.skipped: list[Skipped] = []

    def _refuse(self, path: str, why: str) -> InvalidArgument:
        return InvalidArgument(
            f"{self.what}: entry {path!r}: {why}",
            hint="the layer is malformed or hostile; nothing outside the target was written",
        )

    def _mark(self, path: str) -> None:
        self.written.update(_ancestors(path))

    def _open_dir(self, parts: list[str], path: str, *, create: bool) -> int | None:
        """A descriptor of the directory ``parts`` inside the root, never following a
        symlink; None if it does not exist (or is not a directory) and not ``create``."""
        fd = os.dup(self.root_fd)
        try:
            for i, comp in enumerate(parts):
                where = "/".join(parts[: i + 1])
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
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
                        os.close(fd)
                        return None
                    raise self._refuse(path, f"its parent {where!r} is not a directory") from None
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise

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
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dfd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)

    def _remove(self, dfd: int, name: str) -> None:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return
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
        dfd = self._open_dir(parts[:-1], entry.path, create=True)
        assert dfd is not None
        try:
            self._place(dfd, parts[-1], entry, reader)
        finally:
            os.close(dfd)

    def _place(self, dfd: int, name: str, entry: Entry, reader: LayerReader) -> None:
        kind = entry.type
        if kind is EntryType.DIR:
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    os.unlink(name, dir_fd=dfd)
                    os.mkdir(name, 0o700, dir_fd=dfd)
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=dfd)
            self.dirs.append(entry)
            self._mark(entry.path)
            return
        if kind in (EntryType.CHAR, EntryType.BLOCK) and not self.is_root:
            self.skipped.append(Skipped(entry.path, "device node not created: not root"))
            return
        tmp = f"{_TMP_PREFIX}{os.getpid()}-{next(_counter)}"
        try:
            if kind is EntryType.FILE:
                fd = os.open(
                    tmp,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=dfd,
                )
                with open(fd, "wb") as f:
                    while chunk := reader.read(CHUNK):
                        f.write(chunk)
                    f.flush()
                    self._set_meta_fd(f.fileno(), entry)
            elif kind is EntryType.SYMLINK:
                os.symlink(entry.linkname, tmp, dir_fd=dfd)
                self._set_meta_at(dfd, tmp, entry)
            elif kind is EntryType.HARDLINK:
                self._hardlink(dfd, tmp, entry)
            elif kind is EntryType.FIFO:
                os.mkfifo(tmp, 0o600, dir_fd=dfd)
                self._set_meta_at(dfd, tmp, entry)
            else:
                fmt = stat.S_IFCHR if kind is EntryType.CHAR else stat.S_IFBLK
                dev = os.makedev(entry.devmajor, entry.devminor)
                try:
                    os.mknod(tmp, fmt | 0o600, dev, dir_fd=dfd)
                except PermissionError:
                    # root in a user namespace: the kernel makes no device nodes there
                    self.skipped.append(
                        Skipped(entry.path, "device node not created: not permitted here")
                    )
                    return
                self._set_meta_at(dfd, tmp, entry)
            self._replace(dfd, tmp, name)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except FileNotFoundError:
                pass
            raise
        self._mark(entry.path)

    def _hardlink(self, dfd: int, tmp: str, entry: Entry) -> None:
        parts = entry.linkname.split("/")
        missing = self._refuse(
            entry.path, f"hardlink target {entry.linkname!r} does not exist inside the target"
        )
        tfd = self._open_dir(parts[:-1], entry.path, create=False)
        if tfd is None:
            raise missing
        try:
            try:
                st = os.stat(parts[-1], dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise missing from None
            if stat.S_ISDIR(st.st_mode):
                raise self._refuse(entry.path, f"hardlink target {entry.linkname!r} is a directory")
            os.link(parts[-1], tmp, src_dir_fd=tfd, dst_dir_fd=dfd, follow_symlinks=False)
        finally:
            os.close(tfd)

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
            try:
                os.setxattr(dfd, self.opaque_xattr, b"y")
            finally:
                os.close(dfd)
            return
        if target in self.written:
            return
        dfd = self._open_dir(parts[:-1], path, create=True)
        assert dfd is not None
        try:
            self._remove(dfd, parts[-1])
            os.mknod(parts[-1], stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dfd)
        finally:
            os.close(dfd)

    def _delete(self, path: str, target: str) -> None:
        if target in self.written:  # whiteouts hide lower layers only
            return
        parts = target.split("/")
        dfd = self._open_dir(parts[:-1], path, create=False)
        if dfd is None:
            return
        try:
            self._remove(dfd, parts[-1])
        finally:
            os.close(dfd)

    def _opaque(self, path: str, directory: str) -> None:
        parts = [] if directory == "." else directory.split("/")
        dfd = self._open_dir(parts, path, create=False)
        if dfd is None:
            return
        try:
            self._prune(dfd, "" if directory == "." else directory + "/")
        finally:
            os.close(dfd)

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
            if fd is None:
                continue  # replaced by a non-directory later in the layer
            try:
                self._set_meta_fd(fd, entry)
            finally:
                os.close(fd)


def _extract(
    reader: LayerReader,
    root_fd: int,
    xattrs: bool,
    overlay: bool = False,
    opaque_xattr: str = OVERLAY_OPAQUE_XATTR,
) -> ExtractResult:
    extractor = _Extractor(root_fd, f"layer {reader.name}", xattrs, overlay, opaque_xattr)
    count = 0
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
    info = reader.finish()
    extractor.finish()
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
            return _extract(reader, root_fd, xattrs, overlay_whiteouts, opaque_xattr)
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
