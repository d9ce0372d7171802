"""The local content-addressed store: blob roles on disk (reader, ingester, manager),
refs in SQLite, cross-process locks, reachability and prune; :class:`StoreLayout` names
every folder under a store root (``Store.layout``)."""

from imageforge.store._atomic import (
    NO_SPACE,
    atomic_write,
    fsync_dir,
    start_writeback,
    storage_full,
)
from imageforge.store._blobs import FileBlobStore, FileIngest
from imageforge.store._layout import StoreLayout
from imageforge.store._lock import FileLock
from imageforge.store._refs import RefEntry, RefStore
from imageforge.store._roles import BlobInfo, BlobIngester, BlobManager, BlobReader, Ingest
from imageforge.store._store import PruneReport, Store
from imageforge.store._summary import ImageSummary, image_entries, summarize
from imageforge.store._userdirs import user_cache_dir

__all__ = [
    "NO_SPACE",
    "BlobInfo",
    "BlobIngester",
    "BlobManager",
    "BlobReader",
    "FileBlobStore",
    "FileIngest",
    "FileLock",
    "ImageSummary",
    "Ingest",
    "PruneReport",
    "RefEntry",
    "RefStore",
    "Store",
    "StoreLayout",
    "atomic_write",
    "fsync_dir",
    "start_writeback",
    "storage_full",
    "image_entries",
    "summarize",
    "user_cache_dir",
]
