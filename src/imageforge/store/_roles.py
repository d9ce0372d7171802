"""The blob roles of the content store (after containerd's content store): functions take
the narrowest role they need."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from imageforge.oci import Digest

__all__ = ["BlobInfo", "BlobIngester", "BlobManager", "BlobReader", "Ingest"]


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int
    modified: float = 0.0


class BlobReader(Protocol):
    def info(self, digest: Digest) -> BlobInfo:
        """Size of a committed blob; NotFound if absent."""
        ...

    def exists(self, digest: Digest) -> bool: ...

    def open(self, digest: Digest, offset: int = 0) -> IO[bytes]:
        """The committed blob's bytes from ``offset``; NotFound if absent."""
        ...


class Ingest(Protocol):
    """One blob being written. Invisible to readers until ``commit``."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int:
        """Bytes written so far (an ingest resumed after a crash starts here)."""
        ...

    def write(self, data: bytes) -> int: ...

    def commit(self, size: int, digest: Digest) -> BlobInfo:
        """Verify size and digest, then make the blob visible atomically."""
        ...

    def abort(self) -> None:
        """Discard what was written."""
        ...

    def close(self) -> None:
        """Stop writing but keep the data for a later ``begin`` of the same ref."""
        ...

    def __enter__(self) -> Ingest: ...

    def __exit__(self, *exc: object) -> None: ...


class BlobIngester(Protocol):
    def begin(self, ref: str) -> Ingest:
        """Start or resume writing the blob named ``ref``; Conflict if another process
        writes it right now."""
        ...


class BlobManager(Protocol):
    def walk(self) -> Iterator[BlobInfo]: ...

    def delete(self, digest: Digest) -> None: ...
