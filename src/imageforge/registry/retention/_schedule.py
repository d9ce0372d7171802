"""The server's schedule: retention of each project whose policy has a cron schedule,
and garbage collection on the registry's own (``gc``). Due runs run under the
``maintenance`` lease, so two servers on one PostgreSQL database never run retention or
collection at the same time, and each is claimed once (its next time moved in one
transaction: a second server on the same database finds it moved). A server that finds
the lease held leaves what is due for a later look, not claimed; one that dies holding
the lease loses it when it expires. The pull clock is flushed on every tick.

Expired upload sessions are swept under a lease of their own (``upload-sweep``), so
replicas sharing a database do not each walk and purge them, and a long collection does
not hold the sweep back; every process still forgets its own suspended sessions that
are gone."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from imageforge.registry._gc import collect_garbage
from imageforge.registry.retention._run import Retention, next_time
from imageforge.registry.service import OPERATOR, Uploads, purge_uploads

__all__ = ["GC_SCHEDULE", "UPLOAD_SWEEP", "Scheduler"]

_LOG = logging.getLogger("imageforge.registry.schedule")
GC_SCHEDULE = "gc"
LEASE = "maintenance"
UPLOAD_SWEEP = "upload-sweep"


class Scheduler:
    def __init__(self, retention: Retention, gc_grace: float = 3600.0, lease_ttl: float = 3600.0):
        self.retention = retention
        self.store = retention.store
        self.gc_grace = gc_grace
        self.lease_ttl = lease_ttl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # more scheduled work by name prefix (``replication:`` for replication rules),
        # each given the schedule's name, run as retention is: claimed once, leased
        self.handlers: dict[str, Callable[[str], None]] = {}

    def tick(self, now: float | None = None) -> list[str]:
        """Flush pull times, then run what is due; the names of the runs done."""
        self.flush()
        now = time.time() if now is None else now
        due_now = [(n, c, d) for n, c, d in self.store.schedules() if d <= now]
        if not due_now:
            return []
        if not self.store.acquire_lease(LEASE, self.holder, self.lease_ttl):
            # left due, not claimed: this server or another runs it at a later look
            _LOG.info(
                "%s due but another server holds the lease: deferred",
                ", ".join(n for n, _, _ in due_now),
            )
            return []
        done = []
        try:
            for name, cron, due in due_now:
                # renewed before each run; lost (expired and taken) means stop here
                if not self.store.acquire_lease(LEASE, self.holder, self.lease_ttl):
                    break
                if not self.store.claim_slot(name, due, next_time(cron, now)):
                    continue  # another server ran this one
                try:
                    self._run(name)
                    done.append(name)
                except Exception as exc:  # logged and recorded; the next run comes
                    _LOG.warning("scheduled %s failed: %s", name, exc)
        finally:
            self.store.release_lease(LEASE, self.holder)
        return done

    def sweep_uploads(self, uploads: Uploads | None = None) -> list[str]:
        """Purge the upload sessions begun more than the expiry ago, if no other server
        is sweeping (the ``upload-sweep`` lease); then ``uploads`` (this process's
        sessions) forgets those gone. The ids this server purged."""
        r = self.retention
        purged: list[str] = []
        if r.upload_expiry is not None and self.store.acquire_lease(
            UPLOAD_SWEEP, self.holder, self.lease_ttl
        ):
            try:
                purged = purge_uploads(r.meta, r.storage, r.upload_expiry, user="scheduler")
            finally:
                self.store.release_lease(UPLOAD_SWEEP, self.holder)
        if uploads is not None:
            uploads.forget_expired(purged)
        return purged

    def flush(self) -> None:
        if self.retention.pulls is not None:
            self.retention.pulls.flush()

    def _run(self, name: str) -> None:
        r = self.retention
        if name == GC_SCHEDULE:
            report = collect_garbage(
                r.meta, r.storage, self.gc_grace, upload_expiry=r.upload_expiry, user="scheduler"
            )
            r.meta.audit_add(
                "scheduler", "gc", "", "schedule", "ok", "",
                f"removed {len(report.manifests)} manifests, {len(report.blobs)} blobs,"
                f" {report.freed_bytes} bytes",
            )  # fmt: skip
        elif (prefix := name.split(":", 1)[0] + ":") in self.handlers:
            self.handlers[prefix](name)
        elif name.startswith("retention:"):
            project = name.split(":", 1)[1]
            if r.meta.project(project) is None:  # deleted since: so is its schedule
                self.store.set_schedule(name, None)
                return
            r.run(OPERATOR, project, trigger="schedule")
