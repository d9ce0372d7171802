"""Scan jobs, their results, the projects' pull policies and the CVE allowlists, in
the metadata database beside the other tables.

The job queue holds one job per (manifest digest, vulnerability database version). A
worker *claims* a job with a lease (``lease_until``): on PostgreSQL with ``SELECT ... FOR
UPDATE SKIP LOCKED`` (several registry processes share the queue without waiting on one
another), on SQLite with a conditional ``UPDATE`` inside the write transaction. A lease
that runs out (the process was killed mid-scan) makes the job claimable again; a worker
that fails puts its job back with a growing delay until ``attempts`` reaches the
limit, then records the failure as the job's result. A result is stored (and the job
finished) only by the worker that still holds the lease, so a job is scanned once
unless its lease ran out.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest

if TYPE_CHECKING:
    from imageforge.registry.meta._sql import MetaStore

__all__ = [
    "SCAN_SCHEMA",
    "SEVERITIES",
    "AllowEntry",
    "Finding",
    "Policy",
    "ScanJob",
    "ScanResult",
    "ScanStore",
    "severity_rank",
]

SCAN_SCHEMA = """
CREATE TABLE IF NOT EXISTS scan_jobs (
    digest TEXT NOT NULL, db_version TEXT NOT NULL, repo TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, not_before DOUBLE PRECISION NOT NULL,
    owner TEXT, lease_until DOUBLE PRECISION, error TEXT NOT NULL DEFAULT '',
    created DOUBLE PRECISION NOT NULL, PRIMARY KEY (digest, db_version));
CREATE INDEX IF NOT EXISTS scan_jobs_state ON scan_jobs (state, not_before);
CREATE TABLE IF NOT EXISTS scan_results (
    digest TEXT PRIMARY KEY, db_version TEXT NOT NULL, status TEXT NOT NULL,
    completed DOUBLE PRECISION NOT NULL, scanned_by TEXT NOT NULL, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS project_policies (project TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cve_allowlist (
    scope TEXT NOT NULL, cve TEXT NOT NULL, expires DOUBLE PRECISION,
    PRIMARY KEY (scope, cve));
"""

# Lowest first; what a scanner reports is mapped onto these (anything else: unknown).
SEVERITIES = ("unknown", "negligible", "low", "medium", "high", "critical")

JOB_STATES = ("queued", "running", "done", "failed")


def severity_rank(severity: str) -> int:
    s = severity.lower()
    return SEVERITIES.index(s) if s in SEVERITIES else 0


@dataclass(frozen=True)
class Finding:
    id: str  # CVE-..., GHSA-...
    package: str
    version: str
    severity: str  # one of SEVERITIES
    fixed: str = ""  # the version that fixes it, if any
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanResult:
    """What a scan of one manifest found; ``status`` ``success`` or ``failed`` (then
    ``message`` says why)."""

    status: str
    db_version: str
    findings: tuple[Finding, ...] = ()
    message: str = ""
    scanner: str = "imageforge"
    completed: float = 0.0
    scanned_by: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ScanResult:
        doc = json.loads(text)
        findings = tuple(
            Finding(**{**f, "aliases": tuple(f.get("aliases", ()))}) for f in doc["findings"]
        )
        return cls(**{**doc, "findings": findings})

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(reversed(SEVERITIES), 0)
        for f in self.findings:
            out[f.severity if f.severity in out else "unknown"] += 1
        return out


@dataclass(frozen=True)
class ScanJob:
    digest: Digest
    db_version: str
    repo: str
    state: str  # one of JOB_STATES
    attempts: int
    owner: str | None
    lease_until: float | None
    error: str


@dataclass(frozen=True)
class Policy:
    """A project's scan and pull settings."""

    scan_on_push: bool = False
    prevent_vulnerable: bool = False
    severity: str = "critical"  # refused: findings at or above it
    require_signature: bool = False  # by one of ``keys``
    keys: tuple[str, ...] = ()  # PEM public keys (cosign.pub)
    required_attestation: str = ""  # a predicate type URI, signed by one of ``keys``
    refuse_root: bool = False  # images whose config runs as root

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "keys": list(self.keys)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Policy:
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        if "keys" in known:
            known["keys"] = tuple(known["keys"])
        return cls(**known)

    @property
    def signed(self) -> bool:
        """Whether a pull needs signatures, attestations or the image's config."""
        return self.require_signature or bool(self.required_attestation) or self.refuse_root


@dataclass(frozen=True)
class AllowEntry:
    cve: str
    expires: float | None = None  # epoch seconds; None: never
    scope: str = ""  # a project, or "" for the whole registry

    def active(self, now: float) -> bool:
        return self.expires is None or now < self.expires


class ScanStore:
    """The queue, results, policies and allowlists of one metadata database."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    # --- the queue
    def enqueue(self, repo: str, digest: Digest, db_version: str, again: bool = False) -> bool:
        """Queue a scan of ``digest`` for ``db_version``; False if one was queued
        already (a finished one is queued again only when ``again``)."""
        now = time.time()
        with self._meta._write() as db:
            row = db.execute(
                "SELECT state FROM scan_jobs WHERE digest = ? AND db_version = ?",
                (str(digest), db_version),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO scan_jobs (digest, db_version, repo, state, attempts,"
                    " not_before, created) VALUES (?, ?, ?, 'queued', 0, ?, ?)",
                    (str(digest), db_version, repo, now, now),
                )
                return True
            if again and str(row[0]) in ("done", "failed"):
                db.execute(
                    "UPDATE scan_jobs SET state = 'queued', attempts = 0, not_before = ?,"
                    " owner = NULL, lease_until = NULL, error = '' WHERE digest = ?"
                    " AND db_version = ?",
                    (now, str(digest), db_version),
                )
                return True
        return False

    _CLAIMABLE = (
        "((state = 'queued' AND not_before <= ?) OR (state = 'running' AND lease_until < ?))"
    )

    def claim(self, owner: str, lease: float) -> ScanJob | None:
        """The oldest claimable job, now leased to ``owner`` for ``lease`` seconds;
        None if there is none."""
        now = time.time()
        if self._meta.backend == "postgresql":
            with self._meta._connection() as db:
                db.execute("BEGIN")
                try:
                    row = db.execute(
                        f"SELECT digest, db_version FROM scan_jobs WHERE {self._CLAIMABLE}"
                        " ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED",
                        (now, now),
                    ).fetchone()
                    if row is not None:
                        db.execute(
                            "UPDATE scan_jobs SET state = 'running', owner = ?,"
                            " lease_until = ?, attempts = attempts + 1"
                            " WHERE digest = ? AND db_version = ?",
                            (owner, now + lease, row[0], row[1]),
                        )
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        else:
            with self._meta._write() as db:
                row = db.execute(
                    f"SELECT digest, db_version FROM scan_jobs WHERE {self._CLAIMABLE}"
                    " ORDER BY created LIMIT 1",
                    (now, now),
                ).fetchone()
                if row is not None:
                    cur = db.execute(
                        "UPDATE scan_jobs SET state = 'running', owner = ?, lease_until = ?,"
                        f" attempts = attempts + 1 WHERE digest = ? AND db_version = ?"
                        f" AND {self._CLAIMABLE}",
                        (owner, now + lease, row[0], row[1], now, now),
                    )
                    if cur.rowcount != 1:
                        row = None
        if row is None:
            return None
        return self.job(Digest(str(row[0])), str(row[1]))

    def renew(self, job: ScanJob, owner: str, lease: float) -> bool:
        """Extend ``owner``'s lease on ``job``; False if it is no longer theirs."""
        with self._meta._write() as db:
            cur = db.execute(
                "UPDATE scan_jobs SET lease_until = ? WHERE digest = ? AND db_version = ?"
                " AND state = 'running' AND owner = ?",
                (time.time() + lease, str(job.digest), job.db_version, owner),
            )
        return cur.rowcount == 1

    def finish(self, job: ScanJob, owner: str, result: ScanResult) -> bool:
        """Store ``result`` as the digest's latest and close the job, if ``owner``
        still holds it; False (nothing stored) if its lease went to another worker."""
        with self._meta._write() as db:
            cur = db.execute(
                "UPDATE scan_jobs SET state = ?, lease_until = NULL, error = ?"
                " WHERE digest = ? AND db_version = ? AND state = 'running' AND owner = ?",
                (
                    "done" if result.status == "success" else "failed",
                    result.message,
                    str(job.digest),
                    job.db_version,
                    owner,
                ),
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "INSERT INTO scan_results VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO"
                " UPDATE SET db_version = excluded.db_version, status = excluded.status,"
                " completed = excluded.completed, scanned_by = excluded.scanned_by,"
                " report = excluded.report",
                (
                    str(job.digest),
                    result.db_version,
                    result.status,
                    result.completed,
                    result.scanned_by,
                    result.to_json(),
                ),
            )
        return True

    def retry(self, job: ScanJob, owner: str, error: str, delay: float) -> bool:
        """Put ``owner``'s failed job back, claimable after ``delay`` seconds."""
        with self._meta._write() as db:
            cur = db.execute(
                "UPDATE scan_jobs SET state = 'queued', owner = NULL, lease_until = NULL,"
                " not_before = ?, error = ? WHERE digest = ? AND db_version = ?"
                " AND state = 'running' AND owner = ?",
                (time.time() + delay, error, str(job.digest), job.db_version, owner),
            )
        return cur.rowcount == 1

    def job(self, digest: Digest, db_version: str) -> ScanJob | None:
        rows = self._meta._rows(
            "SELECT digest, db_version, repo, state, attempts, owner, lease_until, error"
            " FROM scan_jobs WHERE digest = ? AND db_version = ?",
            str(digest),
            db_version,
        )
        return _job(rows[0]) if rows else None

    def jobs(self, digest: Digest | None = None) -> list[ScanJob]:
        sql = (
            "SELECT digest, db_version, repo, state, attempts, owner, lease_until, error"
            " FROM scan_jobs"
        )
        if digest is None:
            return [_job(r) for r in self._meta._rows(sql + " ORDER BY created")]
        return [
            _job(r) for r in self._meta._rows(sql + " WHERE digest = ? ORDER BY created", digest)
        ]

    def index_parents(self, repo: str, digest: Digest) -> list[Digest]:
        """The indexes of ``repo`` that list the manifest ``digest``."""
        rows = self._meta._rows(
            "SELECT parent FROM manifest_refs WHERE repo = ? AND child = ? ORDER BY parent",
            repo,
            digest,
        )
        return [Digest(str(r[0])) for r in rows]

    def outdated(self, db_version: str) -> list[tuple[str, Digest]]:
        """The (repository, digest) of each scanned manifest whose latest result is
        of another database version, with a repository it was pushed to."""
        rows = self._meta._rows(
            "SELECT r.digest, MIN(j.repo) FROM scan_results r JOIN scan_jobs j"
            " ON j.digest = r.digest WHERE r.db_version <> ? GROUP BY r.digest",
            db_version,
        )
        return [(str(repo), Digest(str(d))) for d, repo in rows]

    def result(self, digest: Digest) -> ScanResult | None:
        rows = self._meta._rows("SELECT report FROM scan_results WHERE digest = ?", digest)
        return ScanResult.from_json(str(rows[0][0])) if rows else None

    # --- policies
    def policy(self, project: str) -> Policy:
        rows = self._meta._rows("SELECT doc FROM project_policies WHERE project = ?", project)
        return Policy.from_json(json.loads(str(rows[0][0]))) if rows else Policy()

    def set_policy(self, project: str, policy: Policy) -> None:
        if policy.severity not in SEVERITIES:
            raise InvalidArgument(
                f"severity {policy.severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        with self._meta._write() as db:
            db.execute(
                "INSERT INTO project_policies VALUES (?, ?) ON CONFLICT (project)"
                " DO UPDATE SET doc = excluded.doc",
                (project, json.dumps(policy.to_json(), sort_keys=True)),
            )

    # --- allowlists
    def allowlist(self, scope: str) -> list[AllowEntry]:
        """The entries of ``scope`` (a project; "" the system-wide list), expired ones
        too."""
        rows = self._meta._rows(
            "SELECT cve, expires FROM cve_allowlist WHERE scope = ? ORDER BY cve", scope
        )
        return [AllowEntry(str(c), None if e is None else float(str(e)), scope) for c, e in rows]

    def set_allowlist(self, scope: str, entries: list[AllowEntry]) -> None:
        """Replace the allowlist of ``scope``."""
        with self._meta._write() as db:
            db.execute("DELETE FROM cve_allowlist WHERE scope = ?", (scope,))
            db.executemany(
                "INSERT INTO cve_allowlist VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(scope, e.cve, e.expires) for e in entries],
            )


def _job(r: tuple[object, ...]) -> ScanJob:
    digest, version, repo, state, attempts, owner, lease_until, error = r
    return ScanJob(
        Digest(str(digest)),
        str(version),
        str(repo),
        str(state),
        int(str(attempts)),
        None if owner is None else str(owner),
        None if lease_until is None else float(str(lease_until)),
        str(error),
    )
