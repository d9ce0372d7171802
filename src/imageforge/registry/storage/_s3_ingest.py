"""One blob being written to S3, resumable from any process: nothing of it lives on
local disk between requests.

An ingest ``uploads/<sha256(ref)>/`` holds three objects: ``state`` (the bytes not yet
sent as a part, at most one part's worth, with the S3 multipart upload's id and how many
of its parts count in its metadata), ``lock`` (an :class:`S3Lease`: one writer at a
time, across processes), and at commit ``data`` (the completed multipart upload). Writes
collect in memory; each full part (``part_size``, at least S3's 5 MiB) goes out as the
next part of the multipart upload. ``close``/``suspend`` save ``state``, so the next
``begin`` of the ref, in this process or another, continues at the right offset; parts
sent after the last save (a writer killed mid-request) do not count and are overwritten.

Verification: a running sha256 cannot be serialised with hashlib, so the ingest hashes
while streaming as long as it saw every byte (begun empty, or resumed with everything
still in ``state``) and checks before completing anything; an ingest resumed after parts
went out from another process instead hashes ``data`` with one streaming GET at commit
(its cost: reading the blob once from S3). Only a verified ``data`` is copied (server
side) to ``blobs/...``: nothing is visible under a blob's key before its digest held.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from imageforge.errors import DigestMismatch, InvalidArgument, NotFound
from imageforge.oci import Digest, Hasher, new_hasher
from imageforge.registry.storage._s3_lease import S3Lease
from imageforge.store import BlobInfo

if TYPE_CHECKING:
    from imageforge.registry.storage._s3 import S3BlobStorage

__all__ = ["S3Ingest", "check_digest"]

_READ = 1 << 20


class S3Ingest:
    def __init__(self, storage: S3BlobStorage, ref: str) -> None:
        self._storage = storage
        self._ref = ref
        self._dir = storage.ingest_key(ref)
        self._lease = S3Lease(
            storage.client,
            storage.location,
            self._dir + "lock",
            f"ingest {ref!r}",
            storage.lease,
        )
        self._lease.acquire()
        self._done = False
        self._suspended_etag: str | None = None
        try:
            self._load()
        except BaseException:
            self._lease.release()
            raise

    # -- state in S3 -------------------------------------------------------------------
    def _load(self) -> None:
        """Read ``state`` (a fresh ingest writes an empty one at once, so sweeps see it)."""
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []  # {"PartNumber", "ETag", "Size"}
        self._buffer = bytearray()
        try:
            body, meta, self._etag = self._storage.get_state(self._dir)
        except NotFound:
            self._hasher: Hasher | None = new_hasher("sha256")
            self._save()
            return
        self._buffer = bytearray(body)
        self._upload_id = meta.get("upload-id") or None
        count = int(meta.get("parts", "0"))
        if count:
            if self._upload_id is None:
                raise InvalidArgument(f"ingest {self._ref!r}: state names parts but no upload")
            parts = self._storage.list_parts(self._dir + "data", self._upload_id)
            self._parts = [p for p in parts if p["PartNumber"] <= count]
            if len(self._parts) != count:
                raise NotFound(f"ingest {self._ref!r}: its parts are gone from S3")
        # Every byte is still here to hash only when no part went out before.
        self._hasher = None if self._parts else new_hasher("sha256")
        if self._hasher is not None:
            self._hasher.update(bytes(self._buffer))

    def _save(self) -> None:
        meta = {
            "ref": self._ref,
            "upload-id": self._upload_id or "",
            "parts": str(len(self._parts)),
        }
        self._etag = self._storage.put_state(self._dir, bytes(self._buffer), meta)

    def _send_part(self, body: bytes) -> None:
        self._lease.refresh()
        if self._upload_id is None:
            self._upload_id = self._storage.create_upload(self._dir + "data")
        number = len(self._parts) + 1
        etag = self._storage.upload_part(self._dir + "data", self._upload_id, number, body)
        self._parts.append({"PartNumber": number, "ETag": etag, "Size": len(body)})

    # -- Ingest ------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return sum(int(p["Size"]) for p in self._parts) + len(self._buffer)

    def write(self, data: bytes) -> int:
        if self._done or self._suspended_etag is not None:
            raise InvalidArgument(f"ingest {self._ref!r} is not open for writing")
        self._buffer += data
        if self._hasher is not None:
            self._hasher.update(data)
        size = self._storage.part_size
        while len(self._buffer) >= size:
            self._send_part(bytes(self._buffer[:size]))
            del self._buffer[:size]
        return len(data)

    def commit(self, size: int, digest: Digest) -> BlobInfo:
        digest = Digest(digest)
        try:
            info = self._commit(size, digest)
        except BaseException:
            self.abort()
            raise
        self._finish()
        return info

    def _commit(self, size: int, digest: Digest) -> BlobInfo:
        if self.offset != size:
            raise DigestMismatch(
                f"blob {digest}: wrote {self.offset} bytes, expected {size}", expected=str(digest)
            )
        storage = self._storage
        hasher = self._hasher if digest.algorithm == "sha256" else None
        if hasher is None and not self._parts:
            hasher = new_hasher(digest.algorithm)
            hasher.update(bytes(self._buffer))
        if hasher is not None:
            check_digest(Digest.from_hex(digest.algorithm, hasher.hexdigest()), digest)
        if not self._parts:  # all in memory and verified: one PUT of the final object
            if not storage.exists(digest):
                storage.put_blob(digest, bytes(self._buffer))
            return BlobInfo(digest, size, time.time())
        if self._buffer:
            self._send_part(bytes(self._buffer))
            self._buffer.clear()
        assert self._upload_id is not None
        self._lease.refresh()
        storage.complete_upload(self._dir + "data", self._upload_id, self._parts)
        self._upload_id = None  # completed: nothing left to abort
        if hasher is None:
            check_digest(storage.hash_object(self._dir + "data", digest.algorithm), digest)
        if not storage.exists(digest):
            storage.copy_to_blob(self._dir + "data", digest)
        return BlobInfo(digest, size, time.time())

    def _finish(self) -> None:
        self._done = True
        self._storage.remove_ingest(self._dir, self._upload_id)
        self._lease.release()

    def abort(self) -> None:
        """Discard what was written (the multipart upload, ``state`` and ``data``)."""
        if self._done:
            return
        if self._suspended_etag is not None:  # take the lock back first
            self._lease.acquire()
            self._suspended_etag = None
        self._finish()

    def close(self) -> None:
        """Stop writing, keeping what was written (saved to ``state``) for a later begin."""
        if self._done:
            return
        self._done = True
        if self._suspended_etag is None:
            try:
                self._save()
            finally:
                self._lease.release()

    def suspend(self) -> None:
        """Save ``state`` and give back the lock between requests, keeping the hash
        state, so :meth:`resume` continues without reading anything again."""
        if self._done or self._suspended_etag is not None:
            return
        try:
            self._save()
        finally:
            self._lease.release()
        self._suspended_etag = self._etag

    def resume(self) -> None:
        """Take the lock again after :meth:`suspend`. NotFound if the ingest was
        discarded meanwhile; Conflict if another writer holds it; if another process
        wrote to it meanwhile, its state is loaded again."""
        seen = self._suspended_etag
        if seen is None:
            return
        self._lease.acquire()
        try:
            etag = self._storage.state_etag(self._dir)
            if etag is None:
                raise NotFound(f"ingest {self._ref!r} is gone")
            if etag != seen:
                self._load()
        except BaseException:
            self._lease.release()
            raise
        self._suspended_etag = None

    def __enter__(self) -> S3Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        # Leaving the block without commit discards the data (an exception or a return).
        self.abort()


def check_digest(actual: Digest, expected: Digest) -> None:
    if actual != expected:
        raise DigestMismatch(
            f"blob content has digest {actual}, expected {expected}",
            expected=str(expected),
            actual=str(actual),
            hint="the source is corrupted or was changed while being read",
        )
