"""The worker pool that runs the scan queue inside the registry process.

Each worker claims one job at a time with a lease it renews while the scan runs (so a
long scan is not taken over), and finishes it with the result, or puts it back with
a delay that doubles per attempt (:func:`backoff`) until the last attempt, whose
failure is stored as the result (a pull policy then refuses the image, as it does an
image not scanned). A process killed mid-scan stops renewing: once the lease runs
out any worker, in this process after a restart or in another sharing the database,
claims the job again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import anyio
from anyio import to_thread

from imageforge.errors import ImageforgeError
from imageforge.oci import Digest, IndexManifest, Manifest
from imageforge.registry._names import project_of
from imageforge.registry.events import Event, EventSink, NoEvents, Resource
from imageforge.registry.meta import ManifestRow, MetaStore, ScanJob, ScanResult
from imageforge.registry.scanning._scanner import Scanner, is_image

__all__ = ["ScanWorkers", "backoff"]

_LOG = logging.getLogger("imageforge.registry.scan")


def backoff(attempt: int, base: float, cap: float = 600.0) -> float:
    """Seconds before attempt ``attempt + 1``: ``base``, then twice as long each time."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


def _scan_event(job: ScanJob, result: ScanResult) -> Event:
    """A finished scan as Harbor reports it: ``scan_completed`` with the counts by
    severity, or ``scan_failed`` with the reason."""
    data: dict[str, object] = {"scan_status": result.status, "db_version": result.db_version}
    if result.status == "success":
        data["summary"] = result.counts()
    else:
        data["message"] = result.message
    return Event(
        "scan_completed" if result.status == "success" else "scan_failed",
        project_of(job.repo),
        None,
        job.repo,
        [Resource(str(job.digest), None, f"{job.repo}@{job.digest}")],
        data,
    )


class ScanWorkers:
    """``workers`` threads' worth of scanning through ``scanner``; leases of
    ``lease`` seconds, an idle worker looks for a job every ``poll`` seconds, a job is
    tried ``attempts`` times, ``retry_base`` seconds apart at first."""

    def __init__(
        self,
        meta: MetaStore,
        scanner: Scanner,
        *,
        workers: int = 2,
        lease: float = 300.0,
        poll: float = 1.0,
        attempts: int = 3,
        retry_base: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.meta = meta
        self.scanner = scanner
        self.workers = workers
        self.lease = lease
        self.poll = poll
        self.attempts = attempts
        self.retry_base = retry_base
        self.clock = clock
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._version: str | None = None
        # scan_completed / scan_failed of each finished job (the webhooks listen)
        self.events: EventSink = NoEvents()

    # --- what gets queued
    def queue(self, repo: str, digest: Digest, again: bool = False) -> bool:
        """Queue a scan of ``digest`` against the scanner's current database."""
        return self.meta.scans.enqueue(repo, digest, self.scanner.version(), again)

    def pushed(self, row: ManifestRow, manifest: Manifest | IndexManifest) -> None:
        """Queue a scan of a pushed image if its project scans on push."""
        if is_image(manifest) and self.meta.scans.policy(project_of(row.repo)).scan_on_push:
            self.queue(row.repo, row.digest)

    def rescan_outdated(self) -> int:
        """Queue every scanned image again whose result is of another database
        version than the scanner's now; how many were queued."""
        version = self.scanner.version()
        if version == self._version:
            return 0
        self._version = version
        return sum(
            self.meta.scans.enqueue(repo, digest, version)
            for repo, digest in self.meta.scans.outdated(version)
        )

    # --- running jobs
    def run_one(self, worker: str) -> bool:
        """Claim and run one job as ``worker``; False if there was none."""
        owner = f"{self.name}:{worker}"
        job = self.meta.scans.claim(owner, self.lease)
        if job is None:
            return False
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(job, owner, stop), daemon=True)
        keeper.start()
        try:
            result = self._scan(job)
        finally:
            stop.set()
            keeper.join()
        result = ScanResult(
            result.status,
            result.db_version,
            result.findings,
            result.message,
            result.scanner,
            self.clock(),
            owner,
        )
        if result.status != "success" and job.attempts < self.attempts:
            delay = backoff(job.attempts, self.retry_base)
            _LOG.warning(
                "scan of %s failed (attempt %d of %d, next in %g s): %s",
                job.digest,
                job.attempts,
                self.attempts,
                delay,
                result.message,
            )
            self.meta.scans.retry(job, owner, result.message, delay)
        elif not self.meta.scans.finish(job, owner, result):
            _LOG.warning("scan of %s finished after its lease went to another worker", job.digest)
        else:
            self.events.emit(_scan_event(job, result))
        return True

    def _scan(self, job: ScanJob) -> ScanResult:
        try:
            return self.scanner.scan(job.digest)
        except ImageforgeError as exc:
            message = exc.message
        except Exception as exc:  # a scanner's bug must not end the worker
            _LOG.exception("scanner failed on %s", job.digest)
            message = f"{type(exc).__name__}: {exc}"
        return ScanResult("failed", job.db_version, message=message)

    def _keep_lease(self, job: ScanJob, owner: str, stop: threading.Event) -> None:
        while not stop.wait(self.lease / 3):
            try:
                if not self.meta.scans.renew(job, owner, self.lease):
                    return
            except ImageforgeError as exc:  # the database away for a moment: try again
                _LOG.warning("renewing the lease on %s failed: %s", job.digest, exc)

    async def serve(self) -> None:
        """Run the pool until cancelled (the server's lifespan)."""
        async with anyio.create_task_group() as tg:
            for n in range(self.workers):
                tg.start_soon(self._loop, str(n))

    async def _loop(self, worker: str) -> None:
        while True:
            try:
                if worker == "0":
                    await to_thread.run_sync(self.rescan_outdated)
                busy = await to_thread.run_sync(self.run_one, worker, abandon_on_cancel=True)
            except Exception as exc:  # a background loop: log, never end the server
                _LOG.warning("scan worker %s: %s (next try later)", worker, exc)
                busy = False
            if not busy:
                await anyio.sleep(self.poll)
