"""Blobs fetched from an upstream once however many clients ask at the same time
(single flight, in this process): one thread reads the upstream into an ingest of the
blob storage, and every client asking for the blob meanwhile follows that ingest's
file as it grows, so none waits for the whole blob. The blob is committed (and linked
to the repository, quota checked) only when its digest verifies; if it does not, or
the upstream fails, every follower's response is cut short and nothing is stored.

Two registry processes on one data directory do not share a fetch: the second one's
ingest waits for the first one's to commit (``FileBlobStore.begin_content``) and then
serves the stored blob, so the upstream is still read once, but that client waits.
A blob the quota refuses is cut short too; its stored copy, linked nowhere, goes with
the next garbage collection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from imageforge.errors import DigestMismatch, ImageforgeError, Unavailable
from imageforge.oci import Digest
from imageforge.registry.meta import MetaStore
from imageforge.registry.proxy._upstream import BlobStream
from imageforge.registry.storage import FsBlobStorage

__all__ = ["BlobFetches"]

CHUNK = 1 << 20
# The ingest data file a follower reads while the fetch writes it (FileIngest's layout).
_DATA = "data"


@dataclass
class _Fetch:
    cond: threading.Condition = field(default_factory=threading.Condition)
    started: bool = False
    size: int | None = None
    path: Path | None = None
    written: int = 0
    done: bool = False
    error: ImageforgeError | None = None


def _ingest_ref(digest: Digest) -> str:
    return f"proxy-{digest}"


class BlobFetches:
    def __init__(self, meta: MetaStore, storage: FsBlobStorage) -> None:
        self.meta = meta
        self.storage = storage
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
            if fetch is None:
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

    def _run(
        self,
        fetch: _Fetch,
        repo: str,
        digest: Digest,
        open_upstream: Callable[[], tuple[int | None, BlobStream]],
        what: str,
    ) -> None:
        stream: BlobStream | None = None
        try:
            size, stream = open_upstream()
            ingest = self.storage.begin_content(_ingest_ref(digest), digest)
            if ingest is None:  # stored meanwhile (another process fetched it)
                stored = self.storage.info(digest).size
                self.meta.link_blob(repo, digest, stored)
                with fetch.cond:
                    fetch.size, fetch.written, fetch.done = stored, stored, True
                    fetch.path = self.storage.path(digest)
                    fetch.started = True
                    fetch.cond.notify_all()
                return
            with ingest:
                with fetch.cond:
                    fetch.size = size
                    fetch.path = self.storage.ingest_path(_ingest_ref(digest)) / _DATA
                    fetch.started = True
                    fetch.cond.notify_all()
                while chunk := stream.read(CHUNK):
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
            with self._lock:
                self._running.pop(digest, None)

    def _open(self, fetch: _Fetch, digest: Digest) -> IO[bytes]:
        assert fetch.path is not None
        try:
            return open(fetch.path, "rb")  # noqa: SIM115 - closed by _follow
        except FileNotFoundError:  # committed (moved into the storage) before we opened it
            if fetch.error is not None:
                raise fetch.error from None
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
