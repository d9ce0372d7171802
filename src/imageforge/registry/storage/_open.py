"""Which storage a registry uses: its data directory, or an S3 bucket."""

from __future__ import annotations

from pathlib import Path

from imageforge.registry.storage._fs import FsBlobStorage
from imageforge.registry.storage._protocol import RegistryStorage
from imageforge.registry.storage._s3 import S3BlobStorage

__all__ = ["open_storage"]


def open_storage(data_dir: Path, url: str | None = None) -> RegistryStorage:
    """``url`` ``s3://BUCKET/PREFIX?endpoint=...``: that bucket (checked now, so a
    missing bucket or refused credentials stop the start with a clear error); None: the
    ``storage`` directory under ``data_dir``."""
    if url is None:
        return FsBlobStorage(data_dir)
    storage = S3BlobStorage(url)
    storage.check()
    return storage
