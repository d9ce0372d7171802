"""The scan queue in the metadata database, on SQLite and PostgreSQL: one job per
(digest, database version), leases that a second worker cannot take until they run
out, retries with a growing delay, and results stored only by the lease's holder."""

from __future__ import annotations

import threading
import time

import pytest

from imageforge.errors import InvalidArgument, Unavailable
from imageforge.oci import Digest, digest_bytes
from imageforge.registry.events import Event
from imageforge.registry.meta import Finding, MetaStore, Policy, ScanResult
from imageforge.registry.scanning import ScanWorkers, backoff


def _digest(n: int) -> Digest:
    return digest_bytes(f"image {n}".encode())


class _Scanner:
    """A scanner of no image: each scan answers from ``answers`` (an exception raised)."""

    def __init__(self, *answers: ScanResult | Exception) -> None:
        self.answers = list(answers)
        self.scanned: list[Digest] = []
        self.db = "db-1"

    def version(self) -> str:
        return self.db

    def scan(self, digest: Digest) -> ScanResult:
        self.scanned.append(digest)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_one_job_per_digest_and_database_version(meta_db: str) -> None:
    with MetaStore(meta_db) as meta:
        assert meta.scans.enqueue("team/app", _digest(1), "db-1")
        assert not meta.scans.enqueue("team/other", _digest(1), "db-1")
        assert meta.scans.enqueue("team/app", _digest(1), "db-2")  # a new database
        assert [j.db_version for j in meta.scans.jobs(_digest(1))] == ["db-1", "db-2"]


def test_a_lease_is_held_until_it_runs_out_and_only_its_holder_stores(meta_db: str) -> None:
    with MetaStore(meta_db) as meta:
        meta.scans.enqueue("team/app", _digest(1), "db-1")
        first = meta.scans.claim("a", lease=0.5)
        assert first is not None and first.owner == "a" and first.attempts == 1
        assert meta.scans.claim("b", lease=0.5) is None  # held
        time.sleep(0.6)  # the holder died: its lease runs out
        second = meta.scans.claim("b", lease=30)
        assert second is not None and second.owner == "b" and second.attempts == 2
        late = ScanResult("success", "db-1", scanned_by="a")
        assert not meta.scans.finish(first, "a", late)
        assert meta.scans.result(_digest(1)) is None
        assert meta.scans.finish(second, "b", ScanResult("success", "db-1", scanned_by="b"))
        stored = meta.scans.result(_digest(1))
        assert stored is not None and stored.scanned_by == "b"
        assert meta.scans.claim("c", lease=30) is None  # done


def test_a_failing_scan_is_retried_later_then_stored_as_failed(meta_db: str) -> None:
    with MetaStore(meta_db) as meta:
        scanner = _Scanner(Unavailable("database busy"), RuntimeError("scanner bug"))
        workers = ScanWorkers(meta, scanner, attempts=2, retry_base=0.3, lease=30)
        workers.queue("team/app", _digest(1))
        assert workers.run_one("w")
        job = meta.scans.jobs(_digest(1))[0]
        assert (job.state, job.error) == ("queued", "database busy")
        assert not workers.run_one("w")  # not before its delay
        time.sleep(0.35)
        assert workers.run_one("w")
        job = meta.scans.jobs(_digest(1))[0]
        assert (job.state, job.attempts) == ("failed", 2)
        result = meta.scans.result(_digest(1))
        assert result is not None and result.status == "failed"
        assert "RuntimeError: scanner bug" in result.message
    assert [backoff(n, 10) for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(20, 10) == 600


def test_results_round_trip_with_counts(meta_db: str) -> None:
    found = (
        Finding("CVE-2019-10744", "lodash", "4.17.11", "critical", "4.17.12", ("GHSA-x",)),
        Finding("CVE-1", "p", "1", "low"),
    )
    with MetaStore(meta_db) as meta:
        workers = ScanWorkers(meta, _Scanner(ScanResult("success", "db-1", found)))
        workers.queue("team/app", _digest(1))
        assert workers.run_one("w")
        result = meta.scans.result(_digest(1))
    assert result is not None and result.findings == found
    assert result.counts()["critical"] == 1 and result.counts()["low"] == 1


def test_two_stores_on_one_database_never_claim_a_job_twice(meta_db: str) -> None:
    """Two registry processes' workers (two connections each) racing for 20 jobs."""
    with MetaStore(meta_db) as setup:
        for n in range(20):
            setup.scans.enqueue("team/app", _digest(n), "db-1")
    claimed: list[tuple[str, Digest]] = []
    lock = threading.Lock()

    def worker(meta: MetaStore, name: str) -> None:
        while (job := meta.scans.claim(name, lease=60)) is not None:
            with lock:
                claimed.append((name, job.digest))
            meta.scans.finish(job, name, ScanResult("success", "db-1", scanned_by=name))

    stores = [MetaStore(meta_db), MetaStore(meta_db)]
    threads = [threading.Thread(target=worker, args=(stores[i % 2], f"w{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    digests = [d for _, d in claimed]
    assert sorted(digests) == sorted(_digest(n) for n in range(20))  # each exactly once


@pytest.mark.parametrize("wrong", ["severe", ""])
def test_a_policy_with_an_unknown_severity_is_refused(meta_db: str, wrong: str) -> None:
    with MetaStore(meta_db) as meta, pytest.raises(InvalidArgument, match="severity"):
        meta.scans.set_policy("team", Policy(prevent_vulnerable=True, severity=wrong))


def test_a_new_database_version_queues_every_scanned_image_again(meta_db: str) -> None:
    with MetaStore(meta_db) as meta:
        scanner = _Scanner(ScanResult("success", "db-1"), ScanResult("success", "db-2"))
        workers = ScanWorkers(meta, scanner)
        workers.queue("team/app", _digest(1))
        assert workers.rescan_outdated() == 0  # nothing scanned with another version
        assert workers.run_one("w")
        assert workers.rescan_outdated() == 0
        scanner.db = "db-2"  # vulndb update swapped in a new database
        assert workers.rescan_outdated() == 1
        assert workers.rescan_outdated() == 0  # once per version
        assert workers.run_one("w")
        result = meta.scans.result(_digest(1))
    assert result is not None and result.db_version == "db-2"


class _Events:
    def __init__(self) -> None:
        self.seen: list[Event] = []

    def emit(self, event: Event) -> None:
        self.seen.append(event)


def test_each_finished_scan_is_an_event_for_the_webhooks(meta_db: str) -> None:
    found = (Finding("CVE-2019-10744", "lodash", "4.17.11", "critical"),)
    with MetaStore(meta_db) as meta:
        scanner = _Scanner(ScanResult("success", "db-1", found), RuntimeError("broken"))
        workers = ScanWorkers(meta, scanner, attempts=1)
        events = workers.events = _Events()
        workers.queue("team/app", _digest(1))
        workers.queue("team/app", _digest(2))
        assert workers.run_one("w") and workers.run_one("w")
        assert not workers.run_one("w")
    done, failed = events.seen
    assert (done.type, done.project, done.repository) == ("scan_completed", "team", "team/app")
    assert done.resources[0].digest == str(_digest(1))
    assert done.data["summary"]["critical"] == 1
    assert failed.type == "scan_failed" and "broken" in failed.data["message"]
