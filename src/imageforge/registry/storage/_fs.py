"""Blobs of the registry on a local filesystem.

The registry shares the local store's content-addressed layout and ingest machinery
(``store.FileBlobStore``) rather than a second implementation: blobs are shared across
repositories (which repository may see which blob is metadata, kept in SQL). Its files
are private to the registry's user: blobs ``0400``, data being uploaded ``0600``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from imageforge.errors import Conflict
from imageforge.oci import Digest
from imageforge.store import FileBlobStore
from imageforge.store._lock import FileLock

__all__ = ["FsBlobStorage"]


class FsBlobStorage(FileBlobStore):
    """BlobReader + BlobIngester + BlobManager under ``<data-dir>/storage``."""

    blob_mode = 0o400
    file_mode = 0o600

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / "storage")
        self.trash_dir = self.root / "gc-trash"

    def trash(self, digest: Digest) -> Path | None:
        """Move the blob aside (atomically) for garbage collection; None if absent."""
        self.trash_dir.mkdir(mode=0o700, exist_ok=True)
        target = self.trash_dir / f"{digest.algorithm}-{digest.hex}-{os.getpid()}"
        try:
            os.rename(self.path(digest), target)
        except FileNotFoundError:
            return None
        return target

    def restore(self, digest: Digest, trashed: Path) -> None:
        """Put a trashed blob back (it was referenced again meanwhile)."""
        os.rename(trashed, self.path(digest))

    def purge(self, trashed: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            trashed.unlink()

    def discard_ingest(self, ref: str) -> bool:
        """Remove the ingest ``ref`` and its data; False if a request is writing to it
        right now (it holds the ingest's lock), True if it is gone."""
        directory = self.ingest_path(ref)
        if not directory.is_dir():
            return True
        try:
            with FileLock(directory / "lock").exclusive(blocking=False):
                shutil.rmtree(directory, ignore_errors=True)
        except Conflict:
            return False
        return True
