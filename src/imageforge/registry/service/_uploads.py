"""Expiry of upload sessions. A session (``POST .../blobs/uploads/``) that is never
finished keeps a row and its data on disk; after ``upload_expiry`` (default 7 days, as
distribution's ``uploadpurging``) it is purged: by a periodic sweep in every serving
process and by ``registry gc``. Ingest directories nobody has touched for as long (a
crashed writer's) go too. A session a request is writing to right now holds its
ingest's lock and is left for the next sweep."""

from __future__ import annotations

import shutil
import time

from imageforge.registry.meta import MetaStore
from imageforge.registry.storage import FsBlobStorage

__all__ = ["ingest_ref", "purge_uploads", "sweep_interval"]


def ingest_ref(upload_id: str) -> str:
    """The name of an upload session's ingest in the blob storage."""
    return f"upload-{upload_id}"


def sweep_interval(expiry: float) -> float:
    """How often a server looks for expired sessions: a quarter of the expiry, at least
    every hour, at most every second."""
    return min(3600.0, max(1.0, expiry / 4))


def purge_uploads(
    meta: MetaStore, storage: FsBlobStorage, max_age: float, *, dry_run: bool = False
) -> list[str]:
    """Purge the sessions begun more than ``max_age`` seconds ago with their data; the
    ids of those purged (or, with ``dry_run``, that would be)."""
    purged = []
    for upload_id in meta.uploads_started_before(time.time() - max_age):
        if dry_run:
            purged.append(upload_id)
        elif storage.discard_ingest(ingest_ref(upload_id)):
            meta.remove_upload(upload_id)
            purged.append(upload_id)
    if not dry_run:
        for path in storage.stale_ingests(max_age):
            shutil.rmtree(path, ignore_errors=True)
    return purged
