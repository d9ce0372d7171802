"""The registry's storage seam: what the services, garbage collection and upload expiry
ask of a blob storage, beyond the store's blob roles. ``FsBlobStorage`` (a local data
directory) and ``S3BlobStorage`` (an S3 bucket) implement it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Protocol

from imageforge.oci import Digest
from imageforge.store import BlobInfo

__all__ = ["RegistryIngest", "RegistryStorage"]


class RegistryIngest(Protocol):
    """An ``Ingest`` that an upload session keeps between requests."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int: ...

    def write(self, data: bytes) -> int: ...

    def commit(self, size: int, digest: Digest) -> BlobInfo: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...

    def suspend(self) -> None:
        """Give back what it holds (descriptors, the lock) between requests."""
        ...

    def resume(self) -> None:
        """Take it back: NotFound if discarded meanwhile, Conflict if another writer
        holds it."""
        ...


class RegistryStorage(Protocol):
    # BlobReader
    def info(self, digest: Digest) -> BlobInfo: ...

    def exists(self, digest: Digest) -> bool: ...

    def open(self, digest: Digest, offset: int = 0) -> IO[bytes]: ...

    # BlobIngester, BlobManager
    def begin(self, ref: str) -> RegistryIngest: ...

    def write_blob(self, data: bytes, digest: Digest | None = None) -> BlobInfo: ...

    def walk(self) -> Iterator[BlobInfo]: ...

    def delete(self, digest: Digest) -> None: ...

    def blob_url(self, digest: Digest, expires: int = 300) -> str | None:
        """A URL clients may fetch the blob from directly, or None (served here)."""
        ...

    # garbage collection
    def gc_lock(self) -> contextlib.AbstractContextManager[None]: ...

    def trash(self, digest: Digest) -> str | None: ...

    def restore(self, digest: Digest, trashed: str) -> None: ...

    def purge(self, trashed: str) -> None: ...

    def finish_trash(self, in_use: Callable[[Digest], bool]) -> list[str]: ...

    # upload sessions
    def discard_ingest(self, ref: str) -> bool: ...

    def ingest_idle(self, ref: str) -> float | None: ...

    def remove_stale_ingests(self, older_than: float) -> list[str]: ...
