"""Blobs of the registry in an S3 bucket (any S3-compatible server), so several registry
processes on several machines share them.

Keys under the location's prefix: ``blobs/<algorithm>/<hex[:2]>/<hex>`` (committed,
verified blobs), ``uploads/<sha256(ref)>/`` (ingests, :mod:`._s3_ingest`),
``gc-trash/`` and ``gc.lock`` (garbage collection). Every S3 write is atomic (an object
appears whole or not at all); S3 has no rename, so where the local storage renames this
copies server side, then deletes, and every step is safe to repeat after a crash.

Garbage collection: one at a time per bucket (``gc.lock``, an :class:`S3Lease`);
``trash`` copies the blob under ``gc-trash/`` then deletes it, ``restore`` the reverse.
A collector killed in between leaves both or the trashed copy only; the next one
finishes them (:func:`._trash.finish_trash`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from imageforge.errors import Conflict, InvalidArgument, NotFound
from imageforge.oci import ALGORITHMS, Digest, new_hasher
from imageforge.registry.storage._s3_client import S3Location, s3_errors
from imageforge.registry.storage._s3_ingest import S3Ingest, check_digest
from imageforge.registry.storage._s3_lease import S3Lease
from imageforge.registry.storage._trash import finish_trash
from imageforge.store import BlobInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["S3BlobStorage"]

MIN_PART = 5 << 20  # S3's smallest part but the last
_READ = 1 << 20


class S3BlobStorage:
    """BlobReader + BlobIngester + BlobManager + the registry's GC and upload hooks."""

    def __init__(
        self,
        location: S3Location | str,
        *,
        part_size: int = 8 << 20,
        lease: float = 60.0,
        gc_lease: float = 600.0,
        client: S3Client | None = None,
    ) -> None:
        self.location = S3Location.parse(location) if isinstance(location, str) else location
        if part_size < MIN_PART:
            raise InvalidArgument(f"S3 part size {part_size} is below S3's minimum {MIN_PART}")
        self.part_size = part_size
        self.lease = lease  # an ingest's lock outlives a killed writer by this long
        self.gc_lease = gc_lease
        self.client = client if client is not None else self.location.client()
        self._bucket = self.location.bucket
        self._gc: S3Lease | None = None

    def __str__(self) -> str:
        return str(self.location)

    def _key(self, rest: str) -> str:
        return self.location.prefix + rest

    def _errors(self, what: str) -> contextlib.AbstractContextManager[None]:
        return s3_errors(self.location, what)

    def check(self) -> None:
        """Fail now, with a clear error, if the bucket is missing or the credentials
        are refused (rather than at the first push)."""
        with self._errors(f"reaching bucket {self._bucket!r}"):
            self.client.list_objects_v2(Bucket=self._bucket, Prefix=self._key("blobs/"), MaxKeys=1)

    # -- BlobReader ------------------------------------------------------------------
    def blob_key(self, digest: Digest) -> str:
        digest = Digest(digest)
        return self._key(f"blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}")

    def info(self, digest: Digest) -> BlobInfo:
        try:
            with self._errors(f"blob {digest}"):
                head = self.client.head_object(Bucket=self._bucket, Key=self.blob_key(digest))
        except NotFound:
            raise NotFound(f"blob {digest} is not in the store") from None
        return BlobInfo(Digest(digest), head["ContentLength"], head["LastModified"].timestamp())

    def exists(self, digest: Digest) -> bool:
        try:
            self.info(digest)
        except NotFound:
            return False
        return True

    def open(self, digest: Digest, offset: int = 0) -> IO[bytes]:
        args: dict[str, Any] = {"Bucket": self._bucket, "Key": self.blob_key(digest)}
        if offset:
            if offset >= self.info(digest).size:
                return io.BytesIO(b"")
            args["Range"] = f"bytes={offset}-"
        try:
            with self._errors(f"reading blob {digest}"):
                body = self.client.get_object(**args)["Body"]
        except NotFound:
            raise NotFound(f"blob {digest} is not in the store") from None
        return body  # type: ignore[return-value]  # botocore's StreamingBody is an IOBase

    def blob_url(self, digest: Digest, expires: int = 300) -> str:
        """A presigned URL of the blob, good for ``expires`` seconds (for redirects)."""
        with self._errors(f"signing a URL of blob {digest}"):
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": self.blob_key(digest)},
                ExpiresIn=expires,
            )

    # -- BlobIngester ----------------------------------------------------------------
    def ingest_key(self, ref: str) -> str:
        return self._key(f"uploads/{hashlib.sha256(ref.encode()).hexdigest()}/")

    def begin(self, ref: str) -> S3Ingest:
        return S3Ingest(self, ref)

    def write_blob(self, data: bytes, digest: Digest | None = None) -> BlobInfo:
        """Store small content (a manifest, a config) in one call: verified in memory,
        then one PUT (atomic in S3) of the final object."""
        algorithm = Digest(digest).algorithm if digest is not None else "sha256"
        hasher = new_hasher(algorithm)
        hasher.update(data)
        actual = Digest.from_hex(algorithm, hasher.hexdigest())
        if digest is not None:
            check_digest(actual, Digest(digest))
        if not self.exists(actual):
            self.put_blob(actual, data)
        return BlobInfo(actual, len(data), time.time())

    # -- what ingests do in S3 -------------------------------------------------------
    def get_state(self, directory: str) -> tuple[bytes, dict[str, str], str]:
        with self._errors(f"reading upload state {directory}"):
            got = self.client.get_object(Bucket=self._bucket, Key=directory + "state")
            return got["Body"].read(), dict(got.get("Metadata", {})), got["ETag"]

    def put_state(self, directory: str, body: bytes, meta: Mapping[str, str]) -> str:
        with self._errors(f"saving upload state {directory}"):
            return self.client.put_object(
                Bucket=self._bucket, Key=directory + "state", Body=body, Metadata=dict(meta)
            )["ETag"]

    def state_etag(self, directory: str) -> str | None:
        try:
            with self._errors(f"upload state {directory}"):
                return self.client.head_object(Bucket=self._bucket, Key=directory + "state")["ETag"]
        except NotFound:
            return None

    def create_upload(self, key: str) -> str:
        with self._errors(f"starting a multipart upload of {key}"):
            return self.client.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        with self._errors(f"uploading part {number} of {key}"):
            return self.client.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )["ETag"]

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        with self._errors(f"listing the parts of {key}"):
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=self._bucket, Key=key, UploadId=upload_id
            )
            for page in pages:
                for p in page.get("Parts", []):
                    parts.append(
                        {"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                    )
        return sorted(parts, key=lambda p: int(p["PartNumber"]))

    def complete_upload(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        done: list[CompletedPartTypeDef] = [
            {"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts
        ]
        with self._errors(f"completing the multipart upload of {key}"):
            self.client.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            )

    def hash_object(self, key: str, algorithm: str) -> Digest:
        """The digest of an object, read with one streaming GET."""
        hasher = new_hasher(algorithm)
        with self._errors(f"reading {key} to verify it"):
            body = self.client.get_object(Bucket=self._bucket, Key=key)["Body"]
            with contextlib.closing(body):
                for chunk in body.iter_chunks(_READ):
                    hasher.update(chunk)
        return Digest.from_hex(algorithm, hasher.hexdigest())

    def put_blob(self, digest: Digest, data: bytes) -> None:
        with self._errors(f"storing blob {digest}"):
            self.client.put_object(Bucket=self._bucket, Key=self.blob_key(digest), Body=data)

    def _copy(self, source: str, target: str) -> None:
        # s3transfer's managed copy: one CopyObject, or a multipart copy past 5 GiB
        self.client.copy({"Bucket": self._bucket, "Key": source}, self._bucket, target)

    def copy_to_blob(self, key: str, digest: Digest) -> None:
        with self._errors(f"storing blob {digest}"):
            self._copy(key, self.blob_key(digest))

    def remove_ingest(self, directory: str, upload_id: str | None) -> None:
        """Delete an ingest's objects and abort its multipart upload (not the lock)."""
        with self._errors(f"removing upload {directory}"):
            if upload_id:
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(
                        Bucket=self._bucket, Key=directory + "data", UploadId=upload_id
                    )
            self.client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": directory + "data"}, {"Key": directory + "state"}]},
            )

    # -- BlobManager -----------------------------------------------------------------
    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        with self._errors(f"listing {prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:
                yield from page.get("Contents", [])  # type: ignore[misc]

    def walk(self) -> Iterator[BlobInfo]:
        for algorithm in sorted(ALGORITHMS):
            for obj in self._list(self._key(f"blobs/{algorithm}/")):
                name = str(obj["Key"]).rpartition("/")[2]
                try:
                    digest = Digest.from_hex(algorithm, name)
                except InvalidArgument:
                    continue  # not ours
                yield BlobInfo(digest, int(obj["Size"]), obj["LastModified"].timestamp())

    def delete(self, digest: Digest) -> None:
        self.info(digest)  # NotFound if absent
        with self._errors(f"deleting blob {digest}"):
            self.client.delete_object(Bucket=self._bucket, Key=self.blob_key(digest))

    # -- garbage collection ----------------------------------------------------------
    @contextlib.contextmanager
    def gc_lock(self) -> Iterator[None]:
        """Held by a garbage collection for its whole run: one at a time per bucket."""
        lease = S3Lease(
            self.client, self.location, self._key("gc.lock"), "garbage collection", self.gc_lease
        )
        try:
            lease.acquire()
        except Conflict:
            raise Conflict(
                f"another garbage collection is running on {self.location}",
                hint=f"wait for it to finish (a killed one's lock lapses in {self.gc_lease:.0f} s)",
            ) from None
        self._gc = lease
        try:
            yield
        finally:
            self._gc = None
            lease.release()

    def trash(self, digest: Digest) -> str | None:
        """Move the blob aside for garbage collection (copy, then delete); None if absent."""
        if self._gc is not None:
            self._gc.refresh()
        target = self._key(f"gc-trash/{digest.algorithm}-{digest.hex}-{uuid.uuid4().hex[:8]}")
        try:
            with self._errors(f"moving blob {digest} to the trash"):
                self._copy(self.blob_key(digest), target)
        except NotFound:
            return None
        self.delete_key(self.blob_key(digest))
        return target

    def restore(self, digest: Digest, trashed: str) -> None:
        """Put a trashed blob back (it was referenced again meanwhile)."""
        with self._errors(f"restoring blob {digest}"):
            self._copy(trashed, self.blob_key(digest))
        self.delete_key(trashed)

    def purge(self, trashed: str) -> None:
        self.delete_key(trashed)

    def delete_key(self, key: str) -> None:
        with self._errors(f"deleting {key}"):
            self.client.delete_object(Bucket=self._bucket, Key=key)

    def trashed(self) -> Iterator[tuple[str, Digest | None]]:
        """What earlier collections left in the trash (each key and the blob it was)."""
        for obj in self._list(self._key("gc-trash/")):
            key = str(obj["Key"])
            algorithm, _, rest = key.rpartition("/")[2].partition("-")
            try:
                digest: Digest | None = Digest.from_hex(algorithm, rest.rpartition("-")[0])
            except InvalidArgument:
                digest = None
            yield key, digest

    def finish_trash(self, in_use: Callable[[Digest], bool]) -> list[str]:
        """Finish what a killed collection left in the trash (:func:`finish_trash`)."""
        return finish_trash(self, in_use)

    # -- upload sessions -------------------------------------------------------------
    def discard_ingest(self, ref: str) -> bool:
        """Remove the ingest ``ref`` and its data; False if a request is writing to it
        right now (it holds the ingest's lock), True if it is gone."""
        try:
            ingest = self.begin(ref)
        except Conflict:
            return False
        except NotFound:  # its parts went already: remove what is left
            self.remove_ingest(self.ingest_key(ref), None)
            return True
        ingest.abort()
        return True

    def ingest_idle(self, ref: str) -> float | None:
        """Seconds since the ingest ``ref`` was last saved; None if there is none."""
        try:
            with self._errors(f"upload {ref}"):
                head = self.client.head_object(
                    Bucket=self._bucket, Key=self.ingest_key(ref) + "state"
                )
        except NotFound:
            return None
        return time.time() - head["LastModified"].timestamp()

    def remove_stale_ingests(self, older_than: float) -> list[str]:
        """Remove ingests untouched for ``older_than`` seconds that no request holds (a
        killed writer's), and multipart uploads as old that no ingest names; the refs
        (or keys) removed."""
        cutoff = time.time() - older_than
        removed = []
        live: set[str] = set()
        for obj in list(self._list(self._key("uploads/"))):
            key = str(obj["Key"])
            if not key.endswith("/state"):
                continue
            directory = key[: -len("state")]
            if obj["LastModified"].timestamp() >= cutoff:
                live.add(directory)
                continue
            try:
                _body, meta, _etag = self.get_state(directory)
            except NotFound:
                continue
            ref = meta.get("ref", "")
            if ref and self.ingest_key(ref) == directory and self.discard_ingest(ref):
                removed.append(ref)
            else:
                live.add(directory)
        with self._errors("listing multipart uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self._bucket, Prefix=self._key("uploads/")
            )
            stale = [
                (u["Key"], u["UploadId"])
                for page in pages
                for u in page.get("Uploads", [])
                if u["Initiated"].timestamp() < cutoff
            ]
        for key, upload_id in stale:
            if key[: -len("data")] not in live:
                with contextlib.suppress(NotFound), self._errors(f"aborting {key}"):
                    self.client.abort_multipart_upload(
                        Bucket=self._bucket, Key=key, UploadId=upload_id
                    )
                removed.append(key)
        return removed
