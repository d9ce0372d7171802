"""Blobs on disk: ``blobs/<algorithm>/<hex>``, written through ingests under ``ingest/``.

An ingest appends to ``ingest/<id>/data`` while hashing; ``commit`` checks size and
digest, fsyncs and renames the file into ``blobs/`` (then fsyncs the directory), so a
blob is either complete and verified or not there at all. A crashed ingest leaves only
its ingest directory, which the next ``begin`` with the same ref resumes and ``prune``
removes once stale. No blob is ever held in memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from imageforge.errors import (
    Conflict,
    DigestMismatch,
    InvalidArgument,
    NotFound,
)
from imageforge.oci import ALGORITHMS, Digest, Hasher, new_hasher
from imageforge.store._atomic import NO_SPACE, fsync_dir, storage_full
from imageforge.store._layout import BLOBS, INGEST
from imageforge.store._lock import FileLock
from imageforge.store._roles import BlobInfo

__all__ = ["FileBlobStore", "FileIngest"]

_CHUNK = 1 << 20
# How long a writer of content another process is writing waits for it (then takes over).
_SAME_CONTENT_WAIT = 300.0


def _last_written(directory: Path) -> float | None:
    """When an ingest directory's data (or, without data, the directory) last changed;
    None once it is gone. Its writer may commit or discard it at any moment."""
    for path in (directory / "data", directory):
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            continue
    return None


class FileIngest:
    def __init__(self, store: FileBlobStore, ref: str, directory: Path) -> None:
        self._store = store
        self._ref = ref
        self._dir = directory
        self._lock_cm = FileLock(directory / "lock").exclusive(
            blocking=False, what=f"ingest {ref!r}"
        )
        self._lock_cm.__enter__()
        self._done = False
        try:
            (directory / "ref").write_text(ref)
            self._data = directory / "data"
            self._file = self._open_data()
            self._rehash()
        except BaseException:
            self._lock_cm.__exit__(None, None, None)
            raise
        self._suspended: tuple[int, int, int] | None = None

    def _open_data(self) -> io.FileIO:
        # Unbuffered: every write reaches the kernel at once, so a process killed
        # mid-upload loses nothing it acknowledged and a resume starts at the truth.
        mode = self._store.file_mode
        return open(  # noqa: SIM115 - closed in commit/abort/suspend
            self._data, "ab", buffering=0, opener=lambda p, f: os.open(p, f, mode)
        )

    def _rehash(self) -> None:
        """Hash what the data file holds (an earlier, interrupted writer's bytes)."""
        self._hasher: Hasher = new_hasher("sha256")
        self._offset = 0
        with open(self._data, "rb") as existing:
            while chunk := existing.read(_CHUNK):
                self._update(chunk)

    def _update(self, chunk: bytes) -> None:
        self._hasher.update(chunk)
        self._offset += len(chunk)

    def _actual(self, algorithm: str) -> Digest:
        if algorithm == "sha256":
            return Digest.from_hex("sha256", self._hasher.hexdigest())
        self._file.flush()
        h = new_hasher(algorithm)
        with open(self._data, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        return Digest.from_hex(algorithm, h.hexdigest())

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return self._offset

    def write(self, data: bytes) -> int:
        if self._done:
            raise InvalidArgument(f"ingest {self._ref!r} is already finished")
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                view = view[written or 0 :]
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            self.abort()  # a full disk must not stay full because of us
            raise storage_full(self._store.root, f"{self._ref!r} ({self._offset} bytes)") from None
        self._update(data)
        return len(data)

    def commit(self, size: int, digest: Digest, *, sync_dir: bool = True) -> BlobInfo:
        """Check size and digest, fsync the data and rename it into ``blobs/``;
        ``sync_dir=False`` leaves the fsync of ``blobs/<algorithm>`` to the caller
        (:meth:`FileBlobStore.sync`), who commits several blobs and syncs once before a
        ref names them."""
        digest = Digest(digest)
        try:
            if self._offset != size:
                raise DigestMismatch(
                    f"blob {digest}: wrote {self._offset} bytes, expected {size}",
                    expected=str(digest),
                )
            actual = self._actual(digest.algorithm)
            if actual != digest:
                raise DigestMismatch(
                    f"blob content has digest {actual}, expected {digest}",
                    expected=str(digest),
                    actual=str(actual),
                    hint="the source is corrupted or was changed while being read",
                )
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            target = self._store.path(digest)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(self._data, self._store.blob_mode)
                os.rename(self._data, target)
                if sync_dir:
                    fsync_dir(target.parent)
        except OSError as exc:
            written = self._offset
            self.abort()
            if exc.errno in NO_SPACE:
                raise storage_full(self._store.root, f"{self._ref!r} ({written} bytes)") from None
            raise
        except BaseException:
            self.abort()
            raise
        self._finish()
        return BlobInfo(digest, size, time.time())

    def _finish(self) -> None:
        self._done = True
        if not self._file.closed:
            self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        if self._suspended is None:
            self._lock_cm.__exit__(None, None, None)

    def abort(self) -> None:
        """Discard what was written."""
        if not self._done:
            self._finish()

    def close(self) -> None:
        """Stop writing but keep the data, so a later ``begin`` with the same ref resumes."""
        if not self._done:
            self._done = True
            if self._suspended is None:
                self._file.close()
                self._lock_cm.__exit__(None, None, None)

    def suspend(self) -> None:
        """Give back the descriptors (the data file and the lock) between writes, keeping
        the hash state, so :meth:`resume` continues without reading the data again."""
        if self._done or self._suspended is not None:
            return
        self._file.close()
        st = os.stat(self._data)
        self._suspended = (st.st_ino, st.st_size, st.st_mtime_ns)
        self._lock_cm.__exit__(None, None, None)

    def resume(self) -> None:
        """Take the lock and the data file again after :meth:`suspend`. NotFound if the
        ingest was discarded meanwhile; Conflict if another writer holds it; if someone
        else wrote to it meanwhile, its data is hashed again."""
        seen = self._suspended
        if seen is None:
            return
        if not self._data.exists():
            raise NotFound(f"ingest {self._ref!r} is gone")
        lock = FileLock(self._dir / "lock").exclusive(blocking=False, what=f"ingest {self._ref!r}")
        lock.__enter__()
        try:
            st = os.stat(self._data)  # FileNotFoundError: discarded before we got the lock
            self._file = self._open_data()
            if (st.st_ino, st.st_size, st.st_mtime_ns) != seen:
                self._rehash()
        except FileNotFoundError:
            lock.__exit__(None, None, None)
            raise NotFound(f"ingest {self._ref!r} is gone") from None
        except BaseException:
            lock.__exit__(None, None, None)
            raise
        self._lock_cm = lock
        self._suspended = None

    def __enter__(self) -> FileIngest:
        return self

    def __exit__(self, *exc: object) -> None:
        # Leaving the block without commit discards the data (an exception or a return).
        self.abort()


class FileBlobStore:
    """Implements BlobReader, BlobIngester and BlobManager on a directory."""

    # Modes of committed blobs (read-only) and of data being written; a subclass for
    # private data (the registry's) makes them owner-only.
    blob_mode = 0o444
    file_mode = 0o644

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / BLOBS
        self.ingest_dir = root / INGEST
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: Digest) -> Path:
        digest = Digest(digest)
        return self.blob_dir / digest.algorithm / digest.hex

    # BlobReader
    def info(self, digest: Digest) -> BlobInfo:
        try:
            st = self.path(digest).stat()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the store") from None
        return BlobInfo(Digest(digest), st.st_size, st.st_mtime)

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: Digest, offset: int = 0) -> IO[bytes]:
        try:
            f = open(self.path(digest), "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the store") from None
        if offset:
            f.seek(offset)
        return f

    def sync(self, algorithms: Iterable[str] = ("sha256",)) -> None:
        """Make the renames of blobs committed with ``sync_dir=False`` durable."""
        for algorithm in sorted(set(algorithms)):
            directory = self.blob_dir / algorithm
            if directory.is_dir():
                fsync_dir(directory)

    # BlobIngester
    def ingest_path(self, ref: str) -> Path:
        """The directory of the ingest named ``ref`` (present or not)."""
        return self.ingest_dir / hashlib.sha256(ref.encode()).hexdigest()

    def begin(self, ref: str) -> FileIngest:
        directory = self.ingest_path(ref)
        directory.mkdir(parents=True, exist_ok=True)
        return FileIngest(self, ref, directory)

    def begin_content(self, ref: str, digest: Digest) -> FileIngest | None:
        """Begin a fresh ingest ``ref`` for content known by ``digest``, or None once that
        blob is in the store. Two writers of the same content (one image pushed to two
        repositories at once, two pulls of one base) both succeed: while another process
        holds ``ref`` this waits for it to commit (then None) or give up (then takes
        over). A leftover of a killed writer is discarded, not appended to."""
        deadline = time.monotonic() + _SAME_CONTENT_WAIT
        delay = 0.005
        while not self.exists(digest):
            try:
                ingest = self.begin(ref)
            except Conflict:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            if ingest.offset:
                ingest.abort()
                continue
            return ingest
        return None

    def write_blob(self, data: bytes, digest: Digest | None = None) -> BlobInfo:
        """Store small content (a manifest, a config) in one call."""
        h = hashlib.sha256(data).hexdigest()
        digest = Digest(digest) if digest else Digest.from_hex("sha256", h)
        ingest = self.begin_content(f"blob-{digest}", digest)
        if ingest is None:
            return self.info(digest)
        with ingest:
            ingest.write(data)
            return ingest.commit(len(data), digest)

    # BlobManager
    def walk(self) -> Iterator[BlobInfo]:
        for algorithm in sorted(ALGORITHMS):
            d = self.blob_dir / algorithm
            if not d.is_dir():
                continue
            for entry in sorted(os.scandir(d), key=lambda e: e.name):
                try:
                    digest = Digest.from_hex(algorithm, entry.name)
                except InvalidArgument:
                    continue  # not ours (a stray file); prune leaves it alone
                st = entry.stat()
                yield BlobInfo(digest, st.st_size, st.st_mtime)

    def delete(self, digest: Digest) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the store") from None

    def ingest_idle(self, ref: str) -> float | None:
        """Seconds since the ingest ``ref`` was last written to; None if there is none."""
        written = _last_written(self.ingest_path(ref))
        return None if written is None else time.time() - written

    def stale_ingests(self, older_than: float) -> Iterator[Path]:
        """Ingest directories untouched for ``older_than`` seconds and not being written."""
        now = time.time()
        for entry in os.scandir(self.ingest_dir):
            path = Path(entry.path)
            mtime = _last_written(path)
            if mtime is None or now - mtime < older_than:
                continue  # gone meanwhile (committed or removed), or recent
            try:
                with FileLock(path / "lock").exclusive(blocking=False):
                    yield path
            except Conflict:  # held by a live writer: not stale
                continue
