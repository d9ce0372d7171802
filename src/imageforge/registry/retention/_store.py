"""Retention's tables: each project's policy, the runs (dry and real, with what they
deleted), the time each artifact was last pulled, and the lease that lets one server at
a time run scheduled work (pull times are ``_pulls``').
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from imageforge.registry._pulls import PullClock
from imageforge.registry.meta import MetaStore, in_project

__all__ = ["RetentionStore", "RunRow"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS retention_policies (project TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention_runs (
    id {serial}, project TEXT NOT NULL, started DOUBLE PRECISION NOT NULL,
    finished DOUBLE PRECISION, dry_run INTEGER NOT NULL, trigger TEXT NOT NULL,
    status TEXT NOT NULL, report TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS retention_runs_project ON retention_runs (project, id);
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY, cron TEXT NOT NULL, next_run DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL);
"""


@dataclass(frozen=True)
class RunRow:
    id: int
    project: str
    started: float
    finished: float | None
    dry_run: bool
    trigger: str  # manual or schedule
    status: str  # running, done or failed
    report: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "started": self.started,
            "finished": self.finished,
            "dry_run": self.dry_run,
            "trigger": self.trigger,
            "status": self.status,
            **self.report,
        }


class RetentionStore:
    """Retention's rows in the registry's metadata database."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        meta.ensure_tables(SCHEMA, project_tables=("retention_policies", "retention_runs"))
        PullClock.ensure_table(meta)

    # --- policies
    def policy_doc(self, project: str) -> dict[str, Any] | None:
        rows = self.meta.query("SELECT doc FROM retention_policies WHERE project = ?", project)
        if not rows:
            return None
        doc = json.loads(str(rows[0][0]))
        assert isinstance(doc, dict)
        return doc

    def set_policy_doc(self, project: str, doc: dict[str, Any] | None) -> None:
        with self.meta.transaction() as db:
            if doc is None:
                db.execute("DELETE FROM retention_policies WHERE project = ?", (project,))
            else:
                db.execute(
                    "INSERT INTO retention_policies VALUES (?, ?)"
                    " ON CONFLICT (project) DO UPDATE SET doc = excluded.doc",
                    (project, json.dumps(doc, sort_keys=True)),
                )

    # --- what retention reads of a project
    def pull_times(self, project: str) -> dict[tuple[str, str], float]:
        where, bounds = in_project(project)
        rows = self.meta.query(
            f"SELECT repo, digest, pulled FROM pull_times WHERE {where}", *bounds
        )
        return {(str(r), str(d)): float(str(t)) for r, d, t in rows}

    # --- runs
    def start_run(self, project: str, dry_run: bool, trigger: str) -> int:
        now = time.time()
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO retention_runs (project, started, finished, dry_run, trigger,"
                " status, report) VALUES (?, ?, NULL, ?, ?, 'running', '{}')",
                (project, now, int(dry_run), trigger),
            )
            row = db.execute(
                "SELECT max(id) FROM retention_runs WHERE project = ? AND started = ?",
                (project, now),
            ).fetchone()
        return int(row[0])

    def finish_run(self, run_id: int, status: str, report: dict[str, Any]) -> None:
        with self.meta.transaction() as db:
            db.execute(
                "UPDATE retention_runs SET finished = ?, status = ?, report = ? WHERE id = ?",
                (time.time(), status, json.dumps(report), run_id),
            )

    def _run(self, row: tuple[object, ...]) -> RunRow:
        i, project, started, finished, dry, trigger, status, report = row
        doc = json.loads(str(report))
        return RunRow(
            int(str(i)),
            str(project),
            float(str(started)),
            None if finished is None else float(str(finished)),
            bool(dry),
            str(trigger),
            str(status),
            doc if isinstance(doc, dict) else {},
        )

    def runs(self, project: str, limit: int = 50) -> list[RunRow]:
        rows = self.meta.query(
            "SELECT * FROM retention_runs WHERE project = ? ORDER BY id DESC LIMIT ?",
            project,
            limit,
        )
        return [self._run(r) for r in rows]

    def run(self, project: str, run_id: int) -> RunRow | None:
        rows = self.meta.query(
            "SELECT * FROM retention_runs WHERE project = ? AND id = ?", project, run_id
        )
        return self._run(rows[0]) if rows else None

    # --- schedules and the lease
    def set_schedule(self, name: str, cron: str | None, next_run: float = 0.0) -> None:
        with self.meta.transaction() as db:
            if cron is None:
                db.execute("DELETE FROM schedules WHERE name = ?", (name,))
            else:
                db.execute(
                    "INSERT INTO schedules VALUES (?, ?, ?) ON CONFLICT (name)"
                    " DO UPDATE SET cron = excluded.cron, next_run = excluded.next_run",
                    (name, cron, next_run),
                )

    def schedules(self) -> list[tuple[str, str, float]]:
        rows = self.meta.query("SELECT name, cron, next_run FROM schedules ORDER BY name")
        return [(str(n), str(c), float(str(t))) for n, c, t in rows]

    def claim_slot(self, name: str, due: float, following: float) -> bool:
        """Move ``name``'s next run from ``due`` to ``following``; False if another
        server moved it first (so each due run is claimed once)."""
        with self.meta.transaction() as db:
            cur = db.execute(
                "UPDATE schedules SET next_run = ? WHERE name = ? AND next_run = ?",
                (following, name, due),
            )
        return cur.rowcount == 1

    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold the lease ``name`` for ``ttl`` seconds unless another holder has it
        unexpired; whether ``holder`` holds it now."""
        now = time.time()
        # taken when free, expired or already ours (then renewed); the write lock
        # orders two servers asking at once
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO leases VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET holder = excluded.holder, expires = excluded.expires"
                " WHERE leases.holder = excluded.holder OR leases.expires <= ?",
                (name, holder, now + ttl, now),
            )
            row = db.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        return row is not None and str(row[0]) == holder

    def release_lease(self, name: str, holder: str) -> None:
        with self.meta.transaction() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
