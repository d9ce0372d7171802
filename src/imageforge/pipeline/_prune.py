"""What ``prune`` reclaims: blobs no name reaches (the store's own rule), unpacked
layers -- build and run snapshots -- that no named image uses, with what a crashed
build left mounted, and what ``scan`` kept of images no name reaches."""

from __future__ import annotations

import json
from dataclasses import dataclass

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, Manifest
from imageforge.store import PruneReport, Store

__all__ = ["Pruned", "prune", "prune_snapshots"]


@dataclass(frozen=True)
class Pruned:
    blobs: PruneReport
    snapshots_freed: int  # bytes of unpacked layers deleted
    scan_cache_removed: int = 0  # scan-cache entries deleted
    scan_cache_freed: int = 0  # and their bytes


def _diff_ids_in_use(store: Store) -> set[Digest]:
    keep: set[Digest] = set()
    for digest in store.reachable():
        try:
            _, doc = store.read_manifest(digest)
        except (InvalidArgument, NotFound):
            continue
        if isinstance(doc, Manifest):
            with store.blobs.open(doc.config.digest) as f:
                config = json.loads(f.read())
            keep.update(Digest(d) for d in (config.get("rootfs") or {}).get("diff_ids", []))
    return keep


def prune_snapshots(store: Store) -> int:
    """Delete the unpacked layers no named image uses, and what a crashed build left
    mounted; returns the bytes freed."""
    if not store.layout.snapshots.exists():
        return 0
    from imageforge.runtime import store_snapshotter  # only when pruning: the CLI imports this

    snapshots = store_snapshotter(store)
    with store.lock.exclusive():
        keep = _diff_ids_in_use(store)
        snapshots.cleanup_stale()
        return snapshots.prune(keep)


def prune(store: Store, *, dry_run: bool = False) -> Pruned:
    """Blobs no name reaches and ingests abandoned for a day (only listed with
    ``dry_run``), then the unpacked layers no image uses (not with ``dry_run``), then the
    scan cache's entries of images no name reaches (listed with ``dry_run``)."""
    report = store.prune(dry_run=dry_run)
    snapshots = 0 if dry_run else prune_snapshots(store)
    with store.lock.shared():
        reached = {str(d) for d in store.reachable()}
        from imageforge.scan import ScanCache  # the scanners are a large import

        entries, freed = ScanCache(store.layout.scan_cache).prune(reached, dry_run=dry_run)
    return Pruned(report, snapshots, entries, freed)
