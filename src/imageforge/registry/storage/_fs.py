"""Blobs of the registry on a local filesystem.

The registry shares the local store's content-addressed layout and ingest machinery
(``store.FileBlobStore``) rather than a second implementation: blobs are shared across
repositories (which repository may see which blob is metadata, kept in SQL).
"""

from __future__ import annotations

from pathlib import Path

from imageforge.store import FileBlobStore

__all__ = ["FsBlobStorage"]


class FsBlobStorage(FileBlobStore):
    """BlobReader + BlobIngester + BlobManager under ``<data-dir>/storage``."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / "storage")
