"""What lives under a store's root, named once.

::

    blobs/<alg>/<hex>      content-addressed blobs (layers, configs, manifests), read-only
    ingest/<ref>/          blobs being written, visible only once committed and verified
    refs.db                image names -> manifest digests (SQLite)
    store.lock             the store-wide lock: shared by writers, exclusive for prune
    snapshots/             unpacked layers and the overlay mounts of running steps
                           (the runtime's snapshotter: ``l/``, ``active/``)
    build-cache/           the builder's step records (``<key>.json``, ``image-<key>.json``,
                           ``inputs-<position>.json``) and ``file-hashes.json``
    cache-mounts/<id>/     the contents of ``RUN --mount=type=cache`` directories
    context-views/         short-lived overlay views of the build context for
                           ``RUN --mount=type=bind`` (empty between builds)
    registry/              the default ``--data-dir`` of ``registry serve`` and its admin
                           commands (a registry's storage, not part of the local store)

``blobs/`` and ``ingest/`` are the blob store's own layout (:class:`FileBlobStore` keeps
them under any root it is given, the registry's data directory too); everything else is
reached through :class:`StoreLayout`, so no module spells a folder name of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BLOBS",
    "BUILD_CACHE",
    "CACHE_MOUNTS",
    "CONTEXT_VIEWS",
    "INGEST",
    "LOCK",
    "REFS_DB",
    "REGISTRY",
    "SNAPSHOTS",
    "StoreLayout",
]

BLOBS = "blobs"
INGEST = "ingest"
REFS_DB = "refs.db"
LOCK = "store.lock"
SNAPSHOTS = "snapshots"
BUILD_CACHE = "build-cache"
CACHE_MOUNTS = "cache-mounts"
CONTEXT_VIEWS = "context-views"
REGISTRY = "registry"


@dataclass(frozen=True)
class StoreLayout:
    """The paths under one store root. The root is made absolute when the layout is
    made: a relative ``--root`` means the caller's working directory, and runc reads a
    relative bind source against its bundle directory, not against it."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.absolute())

    @property
    def blobs(self) -> Path:
        return self.root / BLOBS

    @property
    def ingest(self) -> Path:
        return self.root / INGEST

    @property
    def refs_db(self) -> Path:
        return self.root / REFS_DB

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    @property
    def snapshots(self) -> Path:
        return self.root / SNAPSHOTS

    @property
    def build_cache(self) -> Path:
        return self.root / BUILD_CACHE

    @property
    def cache_mounts(self) -> Path:
        return self.root / CACHE_MOUNTS

    @property
    def context_views(self) -> Path:
        return self.root / CONTEXT_VIEWS

    @property
    def registry(self) -> Path:
        return self.root / REGISTRY
