"""COPY and ADD from the build context into a rootfs, with Docker's semantics.

Sources are context paths (wildcards allowed, ``.dockerignore`` honoured, never outside
the context: every component is resolved inside it, see :mod:`._incontext`); a directory
source copies its contents; several sources need a directory destination ending in
``/``; a relative destination is under WORKDIR; files are owned by root unless
``--chown``; ``--chmod`` sets every mode; ADD unpacks a local tar (plain, gzip, bzip2,
xz) into the destination, refusing a member it cannot place with the member named. Writes go through
:func:`resolve_in_root`, so symlinks in the image resolve inside it.

Hand-written: Docker's copy rules are not in any Python library; ``tarfile`` reads the
archives ADD unpacks, each member then placed through the same in-root resolution.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imageforge.builder._incontext import Found, resolve_in_context
from imageforge.dockerfile import Add, Copy, DockerIgnore, parse_dockerignore
from imageforge.errors import (
    DigestMismatch,
    InvalidArgument,
    NotFound,
    Unavailable,
    Unsupported,
)
from imageforge.layers import mkdirs_in_root, resolve_in_root
from imageforge.runtime import resolve_user
from imageforge.store import atomic_write

__all__ = ["CopyPlan", "CopySource", "FileHashes", "apply_copy", "plan_copy"]

_WILDCARD = frozenset("*?[")
_CHUNK = 1 << 20
# What the cache key's scan keeps for the copy that follows it: a small file's content
# read for its hash is written from memory (no second open and read of the source).
_KEEP_FILE = 1 << 16
_KEEP_TOTAL = 64 << 20

_Walked = list[tuple[str, str, os.stat_result]]


class _Scan:
    """What :meth:`CopyPlan.inputs` saw, for :func:`apply_copy` to reuse: each
    source's walk (paths and lstat results) and the contents of the small files it read
    for their hashes, within a budget. The copy then writes exactly what the cache key
    was made from, without walking or reading the context again."""

    def __init__(self) -> None:
        self.walks: dict[int, _Walked] = {}
        self.contents: dict[str, bytes] = {}
        self.kept = 0

    def keep(self, path: str, data: bytes) -> None:
        if len(data) <= _KEEP_FILE and self.kept + len(data) <= _KEEP_TOTAL:
            self.contents[path] = data
            self.kept += len(data)


@dataclass(frozen=True)
class CopySource:
    """One matched source: ``name`` relative to the context (``""`` for a heredoc),
    ``path`` on the host, and the heredoc text when it is one."""

    name: str
    path: Path | None
    is_dir: bool = False
    archive: bool = False
    heredoc: str | None = None
    parents_path: str = ""  # with --parents: where under dest (the path after any /./)
    real: str = ""  # the path in the context with its symlinks resolved (.dockerignore's view)


@dataclass(frozen=True)
class CopyPlan:
    """What one COPY/ADD will write: its sources and where, before any rootfs is
    touched (the cache key is computed from it)."""

    keyword: str
    sources: tuple[CopySource, ...]
    dest: str
    dest_is_dir: bool
    chown: str | None
    chmod: int | None
    context: Path
    ignore: DockerIgnore = field(default_factory=DockerIgnore)
    exclude: DockerIgnore = field(default_factory=DockerIgnore)
    parents: bool = False
    where: str = ""  # Dockerfile:LINE, for errors found while copying
    scan: _Scan = field(default_factory=_Scan, compare=False, repr=False)

    def inputs(self, hashes: FileHashes | None = None) -> dict[str, str]:
        """What the copy reads, one entry per file: ``source/relative path`` -> type,
        mode, size and content hash (a symlink's target). The cache key is made from
        it, and a cache miss is explained by comparing it with the last build's. The
        walk (and small files' contents) is kept for :func:`apply_copy`."""
        out: dict[str, str] = {}
        hashes = hashes or FileHashes()
        scan = self.scan
        for index, src in enumerate(self.sources):
            if src.heredoc is not None:
                out[f"<<{src.name}"] = hashlib.sha256(src.heredoc.encode()).hexdigest()
                continue
            assert src.path is not None
            walked = list(_walk_source(src, self.ignore, self.exclude))
            scan.walks[index] = walked
            for rel, path, st in walked:
                name = f"{src.name}/{rel}" if rel else src.name
                if stat.S_ISLNK(st.st_mode):
                    content = "-> " + os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    content = hashes.sha256(path, st, scan.keep)
                else:
                    content = ""
                out[name] = f"{st.st_mode:o}:{st.st_size}:{content}"
        return out

    def digest(
        self, hashes: FileHashes | None = None, inputs: Mapping[str, str] | None = None
    ) -> str:
        """A hash of everything copied: names, types, modes, sizes, contents, links,
        and the instruction's own options. ``inputs``: :meth:`inputs` already taken."""
        h = hashlib.sha256()
        h.update(f"{self.keyword}\0{self.dest}\0{self.dest_is_dir}\0".encode())
        h.update(f"{self.chown}\0{self.chmod}\0{self.parents}\0".encode())
        h.update("\0".join(self.exclude.lines).encode())
        for name, value in (inputs if inputs is not None else self.inputs(hashes)).items():
            h.update(f"{name}\0{value}\0".encode())
        return "sha256:" + h.hexdigest()


class FileHashes:
    """sha256 of files, remembered by (device, inode, size, mtime, ctime) so a rebuild
    does not read unchanged files again; ``load``/``save`` keep it across builds."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._known: dict[str, str] = {}
        if path is not None:
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._known = {str(k): str(v) for k, v in loaded.items()}
            except (OSError, ValueError):
                pass
        self._dirty = False

    def sha256(
        self,
        path: str | Path,
        st: os.stat_result,
        keep: Callable[[str, bytes], None] | None = None,
    ) -> str:
        """The file's sha256; ``keep(path, content)`` is given the content of a file
        read now in one piece (one smaller than the read size)."""
        key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{path}"
        found = self._known.get(key)
        if found is not None:
            return found
        h = hashlib.sha256()
        fd = open_source(path)
        try:
            size = st.st_size
            # One byte more than the size: a file that still has the size it was
            # stat-ed with is read whole by one read, its end seen without another.
            first = os.read(fd, size + 1 if size < _CHUNK else _CHUNK)
            h.update(first)
            whole = size < _CHUNK and len(first) == size
            if not whole:
                while chunk := os.read(fd, _CHUNK):
                    h.update(chunk)
        finally:
            os.close(fd)
        if whole and keep is not None:
            keep(os.fspath(path), first)
        self._known[key] = h.hexdigest()
        self._dirty = True
        return self._known[key]

    def save(self) -> None:
        if self._path is None or not self._dirty:
            return
        if len(self._known) > 200_000:  # keep the file small: start again
            self._known = {}
        # A temporary file of its own: the builds of a multi-platform build save at
        # the same time (the last one's table stays; each is whole).
        atomic_write(self._path, json.dumps(self._known).encode())
        self._dirty = False


def _download(url: str, checksum: str | None, directory: Path, where: str) -> CopySource:
    """ADD <url>: fetch it (httpx, redirects followed) into ``directory``, check
    ``--checksum``; the file lands as the URL's last path component, mode 0600 as
    Docker gives it."""
    import httpx  # only ADD <url> needs it; importing it costs every build ~60 ms

    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise Unsupported(f"{where}: ADD {url}: only http and https URLs are supported")
    name = posixpath.basename(parsed.path.rstrip("/")) or "index.html"
    target = directory / f"{len(list(directory.iterdir()))}-{name}"
    h = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            if response.status_code != 200:
                raise NotFound(f"{where}: ADD {url}: the server answered {response.status_code}")
            with open(target, "xb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise Unavailable(f"{where}: ADD {url}: {exc}") from None
    actual = "sha256:" + h.hexdigest()
    if checksum and checksum != actual:
        raise DigestMismatch(
            f"{where}: ADD {url}: content is {actual}, --checksum says {checksum}",
            expected=checksum,
            actual=actual,
        )
    target.chmod(0o600)
    return CopySource(name, target, parents_path=name)


def _pivot(raw: str) -> str:
    """The part of a source kept under dest by ``--parents``: after ``/./`` if there is
    one, else the whole path (cleaned)."""
    _, sep, after = raw.partition("/./")
    kept = after if sep else raw
    return posixpath.normpath("/" + kept).lstrip("/")


def _has_wildcard(text: str) -> bool:
    return any(c in _WILDCARD for c in text)


def _is_archive(path: Path) -> bool:
    """Whether ADD unpacks ``path``: a regular file that starts like a tar or a
    compressed stream (a fifo or device is never opened: it could block or never end)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _glob(
    context: Path, pattern: str, ignore: DockerIgnore, what: str, given: Path
) -> list[tuple[str, Path]]:
    """The context paths matching ``pattern`` (wildcards in any component), each with
    where it leads; directories are listed where their symlinks really lead, inside the
    context. Matches .dockerignore leaves out are dropped; one that leads out of the
    context is an error."""
    parts = [p for p in pattern.split("/") if p and p != "."]
    found = [""]
    for part in parts:
        nxt: list[str] = []
        for base in found:
            if not _has_wildcard(part):
                nxt.append(f"{base}/{part}" if base else part)
                continue
            if base and ignore.is_ignored(base) and not ignore.may_reinclude_below(base):
                continue
            where = resolve_in_context(context, base or ".", ignore, what=what, given=given)
            if where.found is not Found.OK or where.path is None:
                continue
            try:
                names = sorted(os.listdir(where.path))
            except (NotADirectoryError, FileNotFoundError):
                continue
            for name in names:
                if fnmatch.fnmatchcase(name, part):
                    nxt.append(f"{base}/{name}" if base else name)
        found = nxt
    out: list[tuple[str, Path]] = []
    for name in found:
        if ignore.is_ignored(name) and not ignore.may_reinclude_below(name):
            continue
        where = resolve_in_context(context, name, ignore, what=what, given=given)
        if where.found is Found.OK and where.path is not None:
            out.append((name, where.path))
    return out


def _source(
    context: Path,
    name: str,
    raw: str,
    ignore: DockerIgnore,
    what: str,
    given: Path,
    keyword: str,
    where: str,
) -> Path:
    """The host path a named (wildcard-free) source leads to, or a clear refusal."""
    if name != "." and ignore.is_ignored(name) and not ignore.may_reinclude_below(name):
        why = "excluded by .dockerignore"
        try:
            found = resolve_in_context(context, name, DockerIgnore(), what=what, given=given)
            if found.found is Found.MISSING:
                why = "not found"
        except InvalidArgument:
            pass  # ignored anyway: where it would lead does not matter
    else:
        found = resolve_in_context(context, name, ignore, what=what, given=given)
        if found.found is Found.OK and found.path is not None:
            return found.path
        if found.found is Found.MISSING:
            why = "not found"
        elif found.real == name:
            why = "excluded by .dockerignore"
        else:
            why = f"excluded by .dockerignore (it leads to {found.real!r}, which is ignored)"
    raise NotFound(
        f"{where}: {keyword} source {raw!r}: {why} in the build context {given}",
        hint="check the path (it is relative to the context, not to the "
        "Dockerfile) and the .dockerignore file",
    )


def plan_copy(
    instr: Copy | Add,
    *,
    context: Path,
    ignore: DockerIgnore,
    workdir: str | None,
    where: str,
    from_image: str | None = None,
    downloads: Path | None = None,
    keyword: str | None = None,
) -> CopyPlan:
    """Match the sources of an (expanded) COPY/ADD against the context; no rootfs yet.
    With ``from_image`` (``COPY --from``), ``context`` is that image's mounted rootfs:
    sources resolve inside it (its symlinks included) and no .dockerignore applies.
    ``keyword`` names the instruction in errors (default: the instruction's own)."""
    keyword = keyword or instr.keyword
    in_root = from_image is not None
    given = context.absolute()
    real_context = Path(os.path.realpath(context))
    exclude = (
        parse_dockerignore("\n".join(instr.exclude), source=f"{where} --exclude")
        if instr.exclude
        else DockerIgnore()
    )
    parents = isinstance(instr, Copy) and instr.parents
    heredocs = {h.name: h for h in instr.heredocs}
    sources: list[CopySource] = []
    for raw in instr.sources:
        if raw.startswith("<<") and raw.lstrip("<-").strip("'\"") in heredocs:
            doc = heredocs[raw.lstrip("<-").strip("'\"")]
            sources.append(CopySource(doc.name, None, heredoc=doc.content))
            continue
        if isinstance(instr, Add) and "://" in raw:
            if downloads is None:
                raise Unsupported(f"{where}: ADD from a URL needs a download directory")
            sources.append(_download(raw, instr.checksum, downloads, where))
            continue
        if not in_root and posixpath.normpath(raw.lstrip("/") or ".").startswith(".."):
            raise InvalidArgument(
                f"{where}: {keyword} source {raw!r} is outside the build context",
                hint="only files below the context directory can be copied",
            )
        name = posixpath.normpath(raw.lstrip("/") or ".")
        if in_root:
            name = posixpath.normpath("/" + name).lstrip("/") or "."
            path = resolve_in_root(context, name)
            if not os.path.lexists(path):
                raise NotFound(f"{where}: {keyword} --from={from_image}: {raw!r} not found")
            is_dir = path.is_dir()
            sources.append(
                CopySource(name, path, is_dir=is_dir, parents_path=_pivot(raw), real=name)
            )
            continue
        what = f"{where}: {keyword} source"
        if _has_wildcard(name):
            matched = _glob(real_context, name, ignore, what, given)
            if not matched:
                raise NotFound(
                    f"{where}: {keyword} source {raw!r} matches no file in the build "
                    "context (or every match is excluded by .dockerignore)"
                )
        else:
            path = _source(real_context, name, raw, ignore, what, given, keyword, where)
            matched = [(name, path)]
        for n, path in matched:
            if len(matched) > 1 and (
                exclude.is_ignored(n) or exclude.is_ignored(posixpath.basename(n))
            ):
                continue
            is_dir = path.is_dir()
            archive = isinstance(instr, Add) and not is_dir and _is_archive(path)
            pivot = _pivot(raw) if not _has_wildcard(name) else n
            real = os.path.relpath(path, real_context)
            sources.append(
                CopySource(n, path, is_dir=is_dir, archive=archive, parents_path=pivot, real=real)
            )
    dest = instr.dest
    dest_is_dir = dest.endswith(("/", "/.")) or dest in (".", "..")
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    dest = posixpath.normpath(dest)
    if (len(sources) > 1 or parents) and not dest_is_dir:
        raise InvalidArgument(
            f"{where}: when using {keyword} with more than one source file, the "
            "destination must be a directory and end with a /"
        )
    chmod: int | None = None
    if instr.chmod:
        try:
            chmod = int(instr.chmod, 8)
        except ValueError:
            raise InvalidArgument(
                f"{where}: --chmod={instr.chmod}: only octal modes are supported"
            ) from None
        if chmod > 0o7777:
            raise InvalidArgument(f"{where}: --chmod={instr.chmod} is out of range")
    return CopyPlan(
        keyword,
        tuple(sources),
        dest,
        dest_is_dir,
        instr.chown,
        chmod,
        context,
        ignore,
        exclude,
        parents,
        where,
    )


def _walk_source(
    src: CopySource, ignore: DockerIgnore, exclude: DockerIgnore | None = None
) -> Iterator[tuple[str, str, os.stat_result]]:
    """(path relative to the source, host path, lstat) for a source and, for a
    directory, everything below it the .dockerignore keeps and ``--exclude`` (matched
    relative to the source) does not name, parents first, sorted. Host paths are plain
    strings: a 20,000-file context is walked on every build, cached or not."""
    skip = exclude or DockerIgnore()
    assert src.path is not None
    root = str(src.path)
    yield "", root, os.stat(root)
    if not src.is_dir:
        return
    real = src.real or src.name  # .dockerignore matches where the source really is
    prefix = "" if real == "." else real + "/"
    filtering = bool(ignore.patterns or skip.patterns)
    lstat = os.lstat
    isdir = stat.S_ISDIR

    def walk(directory: str, rel: str) -> Iterator[tuple[str, str, os.stat_result]]:
        for name in sorted(os.listdir(directory)):
            child = f"{directory}/{name}"
            child_rel = f"{rel}/{name}" if rel else name
            st = lstat(child)
            if not filtering:
                yield child_rel, child, st
                if isdir(st.st_mode):
                    yield from walk(child, child_rel)
                continue
            ctx_rel = prefix + child_rel
            if isdir(st.st_mode):
                ignored = ignore.is_ignored(ctx_rel) or skip.is_ignored(child_rel)
                if ignored and not (
                    ignore.may_reinclude_below(ctx_rel) or skip.may_reinclude_below(child_rel)
                ):
                    continue
                if not ignored:
                    yield child_rel, child, st
                yield from walk(child, child_rel)
            elif not ignore.is_ignored(ctx_rel) and not skip.is_ignored(child_rel):
                yield child_rel, child, st

    yield from walk(root, "")


def _owner(rootfs: Path, chown: str | None) -> tuple[int, int]:
    if not chown:
        return 0, 0
    uid, gid, _ = resolve_user(rootfs, chown)
    return uid, gid


def _remove(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _put(
    rootfs: Path,
    dest: str,
    src: str | Path,
    st: os.stat_result,
    uid: int,
    gid: int,
    chmod: int | None,
    dirs: dict[str, Path],
    fresh: set[str] | None = None,
    content: bytes | None = None,
) -> None:
    """Create ``dest`` (absolute, in the image) as a copy of ``src``; missing parents
    are made 0755 and owned like the copy (buildah's ``--chown`` does the same).

    ``dirs`` remembers, for this copy, the host path of each image directory already
    resolved or made, so a tree of N files is not resolved component by component N
    times; it is cleared whenever the copy adds a symlink or removes something, since
    either can change what a path resolves to. ``fresh`` holds the image directories
    this walk of one source created (new and empty, so nothing in them needs removing
    first: the walk names each child once); ``content`` is a regular file's content
    already read (by the cache key's scan)."""
    parent_dest = posixpath.dirname(dest) or "/"
    parent = dirs.get(parent_dest)
    if parent is None:
        parent = mkdirs_in_root(rootfs, parent_dest, uid=uid, gid=gid)
        dirs[parent_dest] = parent
    target = parent / posixpath.basename(dest)
    mode = chmod if chmod is not None else stat.S_IMODE(st.st_mode)
    in_fresh = fresh is not None and parent_dest in fresh
    if stat.S_ISDIR(st.st_mode):
        existing: os.stat_result | None = None
        if not in_fresh:
            try:
                existing = os.lstat(target)
            except FileNotFoundError:
                pass
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            _remove(target)
            dirs.clear()
            existing = None
        if existing is None:
            os.mkdir(target, 0o700)
            if fresh is not None:
                fresh.add(dest)
        dirs[dest] = target
    else:
        if not in_fresh and os.path.lexists(target):
            _remove(target)
            dirs.clear()
        if stat.S_ISLNK(st.st_mode):
            dirs.clear()
            os.symlink(os.readlink(src), target)
            os.lchown(target, uid, gid)
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            return
        if stat.S_ISREG(st.st_mode):
            # Through descriptors: one path lookup for the new file instead of four.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            if content is not None:
                fout = os.open(target, flags, 0o600)
                try:
                    _write_all(fout, content)
                    _finish_file(fout, uid, gid, mode, st)
                finally:
                    os.close(fout)
                return
            fin = open_source(src)
            try:
                fout = os.open(target, flags, 0o600)
                try:
                    _send_all(fout, fin, st.st_size)
                    _finish_file(fout, uid, gid, mode, st)
                finally:
                    os.close(fout)
            finally:
                os.close(fin)
            return
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(target)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(target, st.st_mode, st.st_rdev)
        else:
            return  # sockets are not copied
    os.chown(target, uid, gid)
    os.chmod(target, mode)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def _finish_file(fd: int, uid: int, gid: int, mode: int, st: os.stat_result) -> None:
    os.fchown(fd, uid, gid)
    os.fchmod(fd, mode)
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _send_all(fout: int, fin: int, size: int) -> None:
    """Copy ``fin`` to its end into ``fout``. The first call asks for one byte more
    than ``size``: a file that still has that size is copied by one call, its end seen
    without another (a short count at any other length is not taken as the end)."""
    copied = 0
    while True:
        want = size + 1 - copied if copied <= size else _CHUNK
        sent = os.sendfile(fout, fin, None, want)
        copied += sent
        if sent == 0 or (copied == size and sent < want):
            return


def open_source(path: str | Path) -> int:
    """A read-only descriptor of a context file, opened without updating its access
    time where the kernel allows it (a freshly written context would otherwise cost a
    metadata write per file on the first build)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOATIME)
    except PermissionError:  # O_NOATIME needs the file's owner (or CAP_FOWNER)
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _member_dest(dest: str, name: str) -> str | None:
    clean = posixpath.normpath("/" + name)
    if clean == "/":
        return None
    return posixpath.join(dest, clean.lstrip("/"))


class _BadMember(Exception):
    """A member ADD cannot place; turned into InvalidArgument naming the archive."""


def _extract_archive(
    rootfs: Path, dest: str, archive: Path, uid: int | None, gid: int | None, what: str
) -> None:
    """Unpack a local tar into ``dest``: owners as in the archive, members placed
    through the in-root resolution (``..`` cannot climb out of ``dest``'s root). A member
    that cannot be placed, or an archive that cannot be read, is refused with ``what``
    (``Dockerfile:LINE: ADD name``) and the member named."""
    mkdirs_in_root(rootfs, dest)
    member_name = ""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                member_name = member.name
                _extract_member(rootfs, dest, tar, member, uid, gid)
    except _BadMember as exc:
        raise InvalidArgument(
            f"{what}: member {member_name!r} {exc}",
            hint="the archive is malformed or hostile; fix or replace it",
        ) from None
    except InvalidArgument as exc:  # a member that cannot be placed in the image
        raise InvalidArgument(
            f"{what}: member {member_name!r}: {exc.message}", hint=exc.hint
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the filesystem's failure (disk full...), not the archive's
        at = f" at member {member_name!r}" if member_name else ""
        raise InvalidArgument(
            f"{what}: cannot unpack the archive{at}: {exc}",
            hint="the archive is truncated or corrupt; fix or replace it",
        ) from None


def _link_source(rootfs: Path, dest: str, member: tarfile.TarInfo) -> Path:
    """The file a hardlink member links to: an earlier non-directory of the archive
    under ``dest`` (an absolute link name is taken below ``dest``, as Docker does)."""
    clean = posixpath.normpath(member.linkname)
    if clean.startswith("../") or clean == "..":
        raise _BadMember(f"is a hard link to {member.linkname!r}, outside the destination")
    link_dest = _member_dest(dest, member.linkname)
    if link_dest is None:
        raise _BadMember(f"is a hard link to {member.linkname!r}, the destination itself")
    source = resolve_in_root(rootfs, link_dest, follow_last=False)
    try:
        st = os.lstat(source)
    except (FileNotFoundError, NotADirectoryError):
        raise _BadMember(
            f"is a hard link to {member.linkname!r}, which no earlier member of the archive created"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise _BadMember(f"is a hard link to {member.linkname!r}, which is a directory")
    return source


def _extract_member(
    rootfs: Path,
    dest: str,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    uid: int | None,
    gid: int | None,
) -> None:
    where = _member_dest(dest, member.name)
    if where is None:
        return
    parent = mkdirs_in_root(rootfs, posixpath.dirname(where))
    target = parent / posixpath.basename(where)
    m_uid = member.uid if uid is None else uid
    m_gid = member.gid if gid is None else gid
    if member.isdir():
        if not target.is_dir() or target.is_symlink():
            _remove(target)
            os.mkdir(target, 0o700)
    else:
        if member.islnk():  # checked before anything is removed
            source = _link_source(rootfs, dest, member)
            if source == target:
                return
            _remove(target)
            os.link(source, target, follow_symlinks=False)  # a link to a symlink itself
            return
        _remove(target)
        if member.issym():
            os.symlink(member.linkname, target)
            os.lchown(target, m_uid, m_gid)
            return
        if member.isfile():
            fin = tar.extractfile(member)
            assert fin is not None
            with fin, open(target, "xb") as fout:
                shutil.copyfileobj(fin, fout, _CHUNK)
        elif member.isfifo():
            os.mkfifo(target)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        else:
            return
    os.chown(target, m_uid, m_gid)
    os.chmod(target, member.mode & 0o7777)
    os.utime(target, (member.mtime, member.mtime))


def apply_copy(plan: CopyPlan, rootfs: Path) -> None:
    """Carry out ``plan`` in the mounted ``rootfs``."""
    uid, gid = _owner(rootfs, plan.chown)
    into_dir = plan.dest_is_dir or resolve_in_root(rootfs, plan.dest).is_dir()
    dirs: dict[str, Path] = {}
    scan = plan.scan
    contents = scan.contents
    for index, src in enumerate(plan.sources):
        if src.heredoc is not None:
            dest = posixpath.join(plan.dest, src.name) if into_dir else plan.dest
            parent = mkdirs_in_root(rootfs, posixpath.dirname(dest) or "/", uid=uid, gid=gid)
            target = parent / posixpath.basename(dest)
            _remove(target)
            with open(target, "xb") as f:
                f.write(src.heredoc.encode())
            os.chown(target, uid, gid)
            os.chmod(target, plan.chmod if plan.chmod is not None else 0o644)
            dirs.clear()
            continue
        if src.archive:
            owner = (uid, gid) if plan.chown else (None, None)
            what = f"{plan.where}: {plan.keyword} {src.name}"
            _extract_archive(rootfs, plan.dest, _path(src), owner[0], owner[1], what)
            dirs.clear()  # the archive may have added symlinks
            continue
        walked = scan.walks.get(index)
        if walked is None:  # no cache key was asked for: walk now
            walked = list(_walk_source(src, plan.ignore, plan.exclude))
        if src.is_dir:
            top = posixpath.join(plan.dest, src.parents_path) if plan.parents else plan.dest
            fresh: set[str] = set()  # one source's walk names each path once
            for rel, path, st in walked:
                if not rel:  # the directory itself: its contents go into dest
                    made = not os.path.lexists(resolve_in_root(rootfs, top))
                    mkdirs_in_root(rootfs, top, uid=uid, gid=gid)
                    if made:
                        fresh.add(posixpath.normpath(top))
                    continue
                dest = posixpath.join(top, rel)
                content = contents.get(path)
                _put(rootfs, dest, path, st, uid, gid, plan.chmod, dirs, fresh, content)
            continue
        if plan.parents:
            dest = posixpath.join(plan.dest, src.parents_path)
        elif into_dir:
            dest = posixpath.join(plan.dest, posixpath.basename(src.name))
        else:
            dest = plan.dest
        _, single, st = walked[0]
        _put(rootfs, dest, single, st, uid, gid, plan.chmod, dirs, None, contents.get(single))


def _path(src: CopySource) -> Path:
    assert src.path is not None
    return src.path
