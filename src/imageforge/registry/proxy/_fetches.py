"""Blobs fetched from an upstream once however many clients ask at the same time
(single flight, in this process): one thread reads the upstream into an ingest of the
blob storage (its ordinary upload path, ``RegistryStorage.begin``), and every client
asking for the blob meanwhile follows the bytes as they arrive, so none waits for the
whole blob. The blob is committed (and linked to the repository, quota checked) only
when its digest verifies; if it does not, or the upstream fails, every follower's
response is cut short and nothing is stored.

What followers read: on the filesystem storage, the ingest's own data file; on any
other storage (S3, whose ingest is in the bucket), a spool of this process - an unnamed
temporary file (``O_TMPFILE``: nothing is left behind by a killed process) that each
follower opens again through ``/proc/self/fd`` with a file position of its own, while
the fetch holds it open. A follower that starts after the fetch ended reads the stored
blob.

Two registry processes do not share a fetch. On one data directory, the second one's
ingest waits for the first one's to commit (``FileBlobStore.begin_content``) and then
serves the stored blob, so the upstream is still read once, but that client waits. On
S3 each process fetches under an ingest of its own and both commit the same verified
blob (the upstream is read once per process). A blob the quota refuses is cut short
too; its stored copy, linked nowhere, goes with the next garbage collection."""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from imageforge.errors import DigestMismatch, ImageforgeError, Unavailable
from imageforge.oci import Digest
from imageforge.registry.meta import MetaStore
from imageforge.registry.proxy._upstream import BlobStream
from imageforge.registry.storage import FsBlobStorage, RegistryIngest, RegistryStorage

__all__ = ["BlobFetches"]

CHUNK = 1 << 20
# The ingest data file a follower reads while the fetch writes it (FileIngest's layout).
_DATA = "data"


@dataclass
class _Fetch:
    cond: threading.Condition = field(default_factory=threading.Condition)
    started: bool = False
    size: int | None = None
    path: Path | None = None  # the file followers read (None: the spool, else the blob)
    spool: IO[bytes] | None = None  # open while the fetch writes it (not on the filesystem)
    written: int = 0
    done: bool = False
    error: ImageforgeError | None = None


def _ingest_ref(digest: Digest) -> str:
    return f"proxy-{digest}"


class BlobFetches:
    def __init__(
        self, meta: MetaStore, storage: RegistryStorage, *, spool_dir: Path | None = None
    ) -> None:
        self.meta = meta
        self.storage = storage
        self.spool_dir = spool_dir  # where spools are made (None: the system's temp dir)
        self._lock = threading.Lock()
        self._running: dict[Digest, _Fetch] = {}
        self.fetched = 0  # upstream reads started (for tests and metrics)

    def follow(
        self,
        repo: str,
        digest: Digest,
        open_upstream: Callable[[], tuple[int | None, BlobStream]],
        what: str,
    ) -> tuple[int | None, Iterator[bytes]]:
        """The blob's size (None: not known yet) and its bytes as they arrive from the
        fetch of ``digest`` into ``repo``, started here unless one is running."""
        with self._lock:
            fetch = self._running.get(digest)
            # a fetch that failed is not joined, even in the moment before it is gone:
            # this request may go to another repository's upstream, or find it well now
            if fetch is None or fetch.error is not None:
                fetch = self._running[digest] = _Fetch()
                self.fetched += 1
                threading.Thread(
                    target=self._run,
                    args=(fetch, repo, digest, open_upstream, what),
                    name=f"proxy-fetch-{digest.hex[:12]}",
                    daemon=True,
                ).start()
        with fetch.cond:
            while not fetch.started and fetch.error is None:
                fetch.cond.wait(1.0)
            if fetch.error is not None:
                raise fetch.error
        return fetch.size, self._follow(fetch, digest)

    def _begin(self, digest: Digest) -> tuple[RegistryIngest, Path | None, IO[bytes] | None] | None:
        """The ingest the blob is written to, the file followers read (the ingest's own
        on the filesystem) or else a spool; None if the blob is stored already."""
        storage = self.storage
        if isinstance(storage, FsBlobStorage):
            ingest = storage.begin_content(_ingest_ref(digest), digest)
            if ingest is None:
                return None
            return ingest, storage.ingest_path(_ingest_ref(digest)) / _DATA, None
        if storage.exists(digest):
            return None
        spool = tempfile.TemporaryFile(dir=self.spool_dir, buffering=0)  # noqa: SIM115
        try:
            # its own ingest: another process fetching the blob holds its own
            return storage.begin(f"{_ingest_ref(digest)}-{uuid.uuid4().hex}"), None, spool
        except BaseException:
            spool.close()
            raise

    def _run(
        self,
        fetch: _Fetch,
        repo: str,
        digest: Digest,
        open_upstream: Callable[[], tuple[int | None, BlobStream]],
        what: str,
    ) -> None:
        stream: BlobStream | None = None
        spool: IO[bytes] | None = None
        try:
            size, stream = open_upstream()
            begun = self._begin(digest)
            if begun is None:  # stored meanwhile (another process fetched it)
                stored = self.storage.info(digest).size
                self.meta.link_blob(repo, digest, stored)
                with fetch.cond:
                    fetch.size, fetch.written, fetch.done = stored, stored, True
                    fetch.started = True
                    fetch.cond.notify_all()
                return
            ingest, path, spool = begun
            try:
                with fetch.cond:
                    fetch.size, fetch.path, fetch.spool = size, path, spool
                    fetch.started = True
                    fetch.cond.notify_all()
                while chunk := stream.read(CHUNK):
                    if spool is not None:
                        spool.write(chunk)
                    ingest.write(chunk)
                    with fetch.cond:
                        fetch.written += len(chunk)
                        fetch.cond.notify_all()
                if size is not None and fetch.written != size:
                    raise Unavailable(
                        f"{what}: the upstream sent {fetch.written} of {size} bytes;"
                        " nothing was cached"
                    )
                try:
                    ingest.commit(fetch.written, digest)
                except DigestMismatch as exc:
                    raise DigestMismatch(
                        f"{what}: the upstream's content does not match the digest"
                        f" ({exc.message}); nothing was cached",
                        hint="the upstream registry is serving corrupt or forged content",
                    ) from None
            except BaseException:
                ingest.abort()  # nothing of it is kept
                raise
            self.meta.link_blob(repo, digest, fetch.written)
            with fetch.cond:
                fetch.done = True
                fetch.cond.notify_all()
        except ImageforgeError as exc:
            with fetch.cond:
                fetch.error = exc
                fetch.cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported to every follower, not lost
            with fetch.cond:
                fetch.error = Unavailable(f"{what}: {type(exc).__name__}: {exc}")
                fetch.cond.notify_all()
        finally:
            if stream is not None:
                stream.close()
            if spool is not None:
                with fetch.cond:  # no follower opens it from now on
                    fetch.spool = None
                spool.close()
            with self._lock:
                if self._running.get(digest) is fetch:  # not a later fetch of the digest
                    del self._running[digest]

    def _open(self, fetch: _Fetch, digest: Digest) -> IO[bytes]:
        with fetch.cond:
            if fetch.spool is not None:  # a file position of its own, on the same file
                return open(f"/proc/self/fd/{fetch.spool.fileno()}", "rb")  # noqa: SIM115
            path = fetch.path
        if path is not None:
            try:
                return open(path, "rb")  # noqa: SIM115 - closed by _follow
            except FileNotFoundError:
                # moved into the storage by the commit or removed by an abort: which one
                # is known once the fetch says it is done or failed
                with fetch.cond:
                    while not fetch.done and fetch.error is None:
                        fetch.cond.wait(1.0)
        if fetch.error is not None:
            raise fetch.error
        return self.storage.open(digest)

    def _follow(self, fetch: _Fetch, digest: Digest) -> Iterator[bytes]:
        f = self._open(fetch, digest)
        try:
            pos = 0
            while True:
                with fetch.cond:
                    while fetch.written <= pos + 1 and not fetch.done and fetch.error is None:
                        fetch.cond.wait(1.0)
                    if fetch.error is not None:
                        raise fetch.error
                    # The last byte waits for the commit: no client gets a whole blob
                    # that did not verify or that the quota refused.
                    available, done = fetch.written - (0 if fetch.done else 1), fetch.done
                if pos < available:
                    chunk = f.read(min(CHUNK, available - pos))
                    if not chunk:
                        raise Unavailable(f"blob {digest}: the cached copy ended early")
                    pos += len(chunk)
                    yield chunk
                elif done:
                    return
        finally:
            f.close()
