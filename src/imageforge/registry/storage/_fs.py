"""Blobs of the registry on a local filesystem.

The registry shares the local store's content-addressed layout and ingest machinery
(``store.FileBlobStore``) rather than a second implementation: blobs are shared across
repositories (which repository may see which blob is metadata, kept in SQL).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from imageforge.oci import Digest
from imageforge.store import FileBlobStore

__all__ = ["FsBlobStorage"]


class FsBlobStorage(FileBlobStore):
    """BlobReader + BlobIngester + BlobManager under ``<data-dir>/storage``."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / "storage")
        self.trash_dir = self.root / "gc-trash"

    def trash(self, digest: Digest) -> Path | None:
        """Move the blob aside (atomically) for garbage collection; None if absent."""
        self.trash_dir.mkdir(exist_ok=True)
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
