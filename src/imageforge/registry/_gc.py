"""Garbage collection of a registry's data directory while it keeps serving.

Mark: the manifests to keep are the tagged ones, those newer than the grace period, the
children of kept indexes and the referrers of kept manifests; the blobs to keep are the
kept manifests, their configs and layers, and every blob linked (uploaded, mounted or
referenced by a push) within the grace period. Sweep: each removal re-checks its reasons
in one SQL transaction first (a push that raced the mark wins). A blob's links go in that
transaction; then its file is moved aside, the database asked once more whether anything
links it now (restored if so) and only then deleted. Writers do the mirror image: link in
SQL first, then make sure the file is there (``service._uploads``, ``service._manifests``).
Either side's last check sees the other's change, so a manifest never names a blob that
is gone. ``dry_run`` reports what would go and changes nothing.

Upload sessions nobody has written to within the grace period (a killed client's, or
one a killed server was receiving) and those begun more than ``upload_expiry`` ago are
purged with their data and rows, and so are ingest directories untouched for as long
(``service._uploads``). One collection runs at a time (``storage.gc_lock``) and first
finishes what a killed one left in the trash, so killing a collection at any moment
leaves nothing the next one does not finish.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from imageforge.oci import Digest
from imageforge.registry.meta import MetaStore
from imageforge.registry.service import blobs_named_by, purge_uploads
from imageforge.registry.storage import RegistryStorage

__all__ = ["GcReport", "collect_garbage"]


@dataclass
class GcReport:
    dry_run: bool
    manifests: list[str] = field(default_factory=list)  # repo@digest
    blobs: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    uploads: list[str] = field(default_factory=list)  # ids of purged upload sessions
    # files a killed collection left in the trash, each "NAME restored" or "NAME deleted"
    trash: list[str] = field(default_factory=list)


def _mark_manifests(
    meta: MetaStore, cutoff: float
) -> tuple[set[tuple[str, str]], list[tuple[str, str, bool]]]:
    manifests, tagged, refs = meta.gc_snapshot()
    children: dict[tuple[str, str], list[str]] = {}
    for repo, parent, child in refs:
        children.setdefault((repo, parent), []).append(child)
    referrers: dict[tuple[str, str], list[str]] = {}
    for repo, digest, _created, subject in manifests:
        if subject:
            referrers.setdefault((repo, subject), []).append(digest)
    present = {(r, d) for r, d, _c, _s in manifests}
    todo = [(r, d) for r, d, c, _s in manifests if (r, d) in tagged or c >= cutoff]
    keep: set[tuple[str, str]] = set()
    while todo:
        key = todo.pop()
        if key in keep or key not in present:
            continue
        keep.add(key)
        repo = key[0]
        todo += [(repo, c) for c in children.get(key, [])]
        todo += [(repo, r) for r in referrers.get(key, [])]
    # indexes first, so their children are no longer "in an index" when their turn comes
    drop = [(r, d, (r, d) in children) for r, d, _c, _s in manifests if (r, d) not in keep]
    drop.sort(key=lambda x: not x[2])
    return keep, drop


def collect_garbage(
    meta: MetaStore,
    storage: RegistryStorage,
    grace: float,
    *,
    dry_run: bool = False,
    upload_expiry: float | None = None,
    user: str = "gc",
) -> GcReport:
    """Remove unreferenced manifests and blobs older than ``grace`` seconds, upload
    sessions untouched for ``grace`` seconds or begun more than ``upload_expiry``
    seconds ago (None: no limit by age; each purge audited as done by ``user``), and
    what a killed collection left. Conflict if another collection of the same data
    directory is running."""
    if dry_run:
        return _collect(meta, storage, grace, upload_expiry, GcReport(dry_run=True), user)
    with storage.gc_lock():
        report = GcReport(dry_run=False)
        report.trash = storage.finish_trash(meta.blob_in_use)
        return _collect(meta, storage, grace, upload_expiry, report, user)


def _collect(
    meta: MetaStore,
    storage: RegistryStorage,
    grace: float,
    upload_expiry: float | None,
    report: GcReport,
    user: str,
) -> GcReport:
    dry_run = report.dry_run
    report.uploads = purge_uploads(
        meta, storage, upload_expiry, idle=grace, dry_run=dry_run, user=user
    )
    cutoff = time.time() - grace
    keep, drop = _mark_manifests(meta, cutoff)
    for repo, digest, _is_index in drop:
        if dry_run or meta.gc_delete_manifest(repo, Digest(digest), cutoff):
            report.manifests.append(f"{repo}@{digest}")
        else:
            keep.add((repo, digest))
    live: set[str] = set()
    for _repo, digest in keep:
        live.add(digest)
        live.update(blobs_named_by(storage, Digest(digest)))
    newest = meta.newest_links()
    for info in list(storage.walk()):
        d = str(info.digest)
        if d in live or newest.get(d, 0.0) >= cutoff or info.modified >= cutoff:
            continue
        if dry_run:
            report.blobs.append(d)
            report.freed_bytes += info.size
        elif meta.gc_unlink_blob(info.digest, cutoff):
            trashed = storage.trash(info.digest)
            if trashed is None:
                continue
            if meta.blob_in_use(info.digest):  # linked again meanwhile: put it back
                storage.restore(info.digest, trashed)
                continue
            storage.purge(trashed)
            report.blobs.append(d)
            report.freed_bytes += info.size
    return report
