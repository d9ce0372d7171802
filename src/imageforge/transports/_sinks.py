"""Where copied blobs go: the local store or a directory of blobs (an OCI layout).

A sink receives verified streams; its ``put`` commits a blob atomically, never leaving a
half-written file where a reader would find it. The directory entries of what ``put``
renamed into place are made durable by ``sync``, once per copy instead of once per blob;
the caller syncs before it writes the name (``index.json``, a store ref) that points at
the blobs, so a crash never leaves a durable name over a lost blob. A layout's blob file
is handed to the disk every ``WRITEBACK_STEP`` bytes as it is written, so the disk writes
while the source is still being read and the fsync before the rename has little left.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from imageforge.errors import DigestMismatch
from imageforge.oci import Digest
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import NO_SPACE, Store, fsync_dir, start_writeback, storage_full

__all__ = ["WRITEBACK_STEP", "BlobSink", "DirBlobSink", "StoreBlobSink", "Writer", "copy_stream"]

CHUNK = 1 << 20
# How much of a blob file is written before the kernel is asked to start writing it to
# disk (a 4 x 64 MiB pull to a layout took the same time with 2 and with 8 MiB).
WRITEBACK_STEP = 8 << 20


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


def copy_stream(
    src: IO[bytes],
    out: Writer,
    progress: ProgressSink = NULL_PROGRESS,
    key: str = "",
    *,
    limit: int | None = None,
    digest: Digest | None = None,
) -> int:
    """Copy in 1 MiB chunks; sources are verifying readers, so a bad byte stops the copy.
    With ``limit`` (the descriptor's size) no more than ``limit + 1`` bytes are read: a
    source with more is refused as soon as the extra byte arrives, whatever it is (a blob
    that is a link to ``/dev/zero`` never ends)."""
    n = 0
    while True:
        chunk = src.read(CHUNK if limit is None else min(CHUNK, limit + 1 - n))
        if not chunk:
            return n
        n += len(chunk)
        if limit is not None and n > limit:
            what = f"blob {digest}" if digest else "blob"
            raise DigestMismatch(
                f"{what}: more than the {limit} bytes its descriptor gives",
                expected=str(digest) if digest else None,
                hint="the source is corrupted or hostile; nothing was stored",
            )
        out.write(chunk)
        if key:
            progress.advance(key, len(chunk))


class _WritebackFile:
    """Writes to ``out`` and, every ``WRITEBACK_STEP`` bytes, has the kernel start writing
    what came since the last step to disk (``store.start_writeback``)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._written = 0
        self._handed = 0

    def write(self, data: bytes, /) -> int:
        n = self._out.write(data)
        self._written += n
        if self._written - self._handed >= WRITEBACK_STEP:
            self._out.flush()
            start_writeback(self._out.fileno(), self._handed, self._written - self._handed)
            self._handed = self._written
        return n


class BlobSink(Protocol):
    @property
    def verifies(self) -> bool:
        """True if ``put`` itself checks size and digest before the blob appears."""
        ...

    def has(self, digest: Digest) -> bool: ...

    def put(
        self,
        digest: Digest,
        size: int,
        src: IO[bytes],
        *,
        progress: ProgressSink = NULL_PROGRESS,
        key: str = "",
    ) -> None: ...

    def sync(self) -> None:
        """Make every blob ``put`` stored durable (its directory entry too)."""
        ...


class StoreBlobSink:
    verifies = True  # the ingest checks size and digest on commit

    def __init__(self, store: Store) -> None:
        self.store = store
        self.added: list[Digest] = []
        self._algorithms: set[str] = set()

    def has(self, digest: Digest) -> bool:
        # Another copy may have renamed this blob and not synced yet: sync covers it too.
        self._algorithms.add(digest.algorithm)
        return self.store.blobs.exists(digest)

    def put(
        self,
        digest: Digest,
        size: int,
        src: IO[bytes],
        *,
        progress: ProgressSink = NULL_PROGRESS,
        key: str = "",
    ) -> None:
        self._algorithms.add(digest.algorithm)
        ingest = self.store.blobs.begin_content(f"copy-{digest}", digest)
        if ingest is None:  # another copy of the same content stored it meanwhile
            return
        with ingest:
            copy_stream(src, ingest, progress, key, limit=size, digest=digest)
            # checks size and digest before the blob appears; the directory: in sync
            ingest.commit(size, digest, sync_dir=False)
        self.added.append(digest)

    def sync(self) -> None:
        self.store.blobs.sync(self._algorithms)


class DirBlobSink:
    """``<dir>/blobs/<alg>/<hex>``, as an OCI image layout stores blobs. Streams must come
    verified (``Layer.open_compressed`` is); small documents are checked by the caller.

    Each blob file is fsynced before its rename (its pages handed to the disk every
    ``WRITEBACK_STEP`` bytes while it is written); the directories it was renamed into are
    fsynced once, by ``sync``. ``durable=False`` skips both: for a staging directory that
    is packed into an archive (the archive is written and fsynced) and then removed."""

    verifies = False

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self._unsynced: set[Path] = set()
        self._lock = threading.Lock()  # put runs in several threads at once

    def path(self, digest: Digest) -> Path:
        return self.root / "blobs" / digest.algorithm / digest.hex

    def has(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def put(
        self,
        digest: Digest,
        size: int,
        src: IO[bytes],
        *,
        progress: ProgressSink = NULL_PROGRESS,
        key: str = "",
    ) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{digest.hex[:16]}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                dest: Writer = _WritebackFile(out) if self.durable else out
                copy_stream(src, dest, progress, key, limit=size, digest=digest)
                out.flush()
                if self.durable:
                    os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            if exc.errno in NO_SPACE:
                raise storage_full(self.root, f"blob {digest}") from None
            raise
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.durable:
            with self._lock:
                self._unsynced.add(target.parent)

    def sync(self) -> None:
        with self._lock:
            todo, self._unsynced = sorted(self._unsynced), set()
        for directory in todo:
            fsync_dir(directory)
