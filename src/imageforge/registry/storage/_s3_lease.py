"""A lock shared by every process using one bucket: an object created only if absent
(``If-None-Match: *``), refreshed and released only by its holder (``If-Match`` on its
ETag). A holder killed with the lock leaves the object; once it is older than the lease
(by the S3 server's own clock: its ``Last-Modified`` against the ``Date`` of the answer,
so replicas' clocks do not matter), the next taker replaces it, conditionally on the
ETag it saw, so of two takers only one wins."""

from __future__ import annotations

import time
import uuid
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from imageforge.errors import Conflict, NotFound
from imageforge.registry.storage._s3_client import S3Location, precondition_failed, s3_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Lease"]


class S3Lease:
    def __init__(
        self, client: S3Client, location: S3Location, key: str, what: str, lease: float
    ) -> None:
        self._client = client
        self._location = location
        self._key = key
        self._what = what
        self._lease = lease
        self._etag: str | None = None
        self._refreshed = 0.0

    @property
    def held(self) -> bool:
        return self._etag is not None

    def _put(self, *, if_match: str | None = None) -> str | None:
        """Write the lock object if absent (or if its ETag is ``if_match``); its ETag,
        None if the condition did not hold."""
        body = f"{uuid.uuid4()}\n".encode()
        try:
            with s3_errors(self._location, f"locking {self._what}"):
                try:
                    bucket, key = self._location.bucket, self._key
                    answer = (
                        self._client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
                        if if_match is None
                        else self._client.put_object(
                            Bucket=bucket, Key=key, Body=body, IfMatch=if_match
                        )
                    )
                except ClientError as exc:
                    if precondition_failed(exc):
                        return None
                    raise
        except Conflict:  # a conditional-request conflict: someone else is at it
            return None
        self._refreshed = time.monotonic()
        return answer["ETag"]

    def _stale_etag(self) -> str | None:
        """The ETag of the present lock object if its holder's lease ran out."""
        try:
            with s3_errors(self._location, f"locking {self._what}"):
                head = self._client.head_object(Bucket=self._location.bucket, Key=self._key)
        except NotFound:  # released meanwhile: try again
            return None
        now = head["ResponseMetadata"]["HTTPHeaders"].get("date")
        server_now = parsedate_to_datetime(now).timestamp() if now else time.time()
        # (Last-Modified has whole seconds: a lease lapses up to a second early)
        if server_now - head["LastModified"].timestamp() < self._lease:
            return None
        return head["ETag"]

    def acquire(self) -> None:
        """Take the lock; Conflict naming ``what`` if a live holder has it."""
        for _ in range(3):
            self._etag = self._put()
            if self._etag is not None:
                return
            stale = self._stale_etag()
            if stale is not None:
                self._etag = self._put(if_match=stale)
                if self._etag is not None:
                    return
        raise Conflict(f"{self._what} is in use by another process")

    def refresh(self) -> None:
        """Renew the lease (at most every tenth of it); Conflict if it was lost (this
        holder stalled past the lease and another took over)."""
        if self._etag is None or time.monotonic() - self._refreshed < self._lease / 10:
            return
        etag = self._put(if_match=self._etag)
        if etag is None:
            self._etag = None
            raise Conflict(f"{self._what} was taken over by another process (lease lost)")
        self._etag = etag

    def release(self) -> None:
        if self._etag is None:
            return
        etag, self._etag = self._etag, None
        try:
            self._client.delete_object(Bucket=self._location.bucket, Key=self._key, IfMatch=etag)
        except (BotoCoreError, ClientError):
            pass  # taken over meanwhile (then it is the new holder's), or S3 failing:
            # the lease runs out either way
