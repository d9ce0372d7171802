"""Replication's tables: the named endpoints and the rules (each a JSON document; an
endpoint's password sealed with the registry's secret key, never shown), the runs and
each run's items (one image by digest, with its state, bytes sent, attempts and last
error), so a run's progress and history can be read while it runs and after.

A password stored in clear by an earlier version is sealed the first time the store is
opened with a secret key (and the row rewritten), so none stays readable in the
database."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from imageforge.registry._secrets import SecretBox, need_box
from imageforge.registry.meta import MetaStore
from imageforge.registry.replication._rules import (
    Endpoint,
    ReplicationRule,
    endpoint_from_json,
    rule_from_json,
)

__all__ = ["ItemRow", "ReplicationStore", "RunRow"]

_LOG = logging.getLogger("imageforge.registry.replication")
SCHEMA = """
CREATE TABLE IF NOT EXISTS replication_endpoints (
    name TEXT PRIMARY KEY, doc TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS replication_rules (
    id {serial}, name TEXT NOT NULL, doc TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS replication_rules_name ON replication_rules (name);
CREATE TABLE IF NOT EXISTS replication_runs (
    id {serial}, rule TEXT NOT NULL, trigger TEXT NOT NULL, started DOUBLE PRECISION NOT NULL,
    finished DOUBLE PRECISION, status TEXT NOT NULL, error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS replication_runs_rule ON replication_runs (rule, id);
CREATE TABLE IF NOT EXISTS replication_items (
    id {serial}, run BIGINT NOT NULL, kind TEXT NOT NULL, repository TEXT NOT NULL,
    tag TEXT NOT NULL, digest TEXT NOT NULL, destination TEXT NOT NULL, status TEXT NOT NULL,
    bytes BIGINT NOT NULL, blobs INTEGER NOT NULL, attempts INTEGER NOT NULL,
    error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS replication_items_run ON replication_items (run, id);
"""


@dataclass(frozen=True)
class ItemRow:
    id: int
    run: int
    kind: str  # copy or delete
    repository: str
    tag: str
    digest: str
    destination: str  # the repository written at the endpoint
    status: str  # pending, done, failed
    bytes: int  # sent
    blobs: int  # sent (blobs the destination had are not)
    attempts: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "destination": self.destination,
            "status": self.status,
            "bytes": self.bytes,
            "blobs": self.blobs,
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True)
class RunRow:
    id: int
    rule: str
    trigger: str  # manual, cron or on_push
    started: float
    finished: float | None
    status: str  # running, done, failed, interrupted (continued by a later run)
    error: str
    items: tuple[ItemRow, ...] = ()

    def to_json(self, items: bool = True) -> dict[str, Any]:
        count = {
            s: sum(1 for i in self.items if i.status == s) for s in ("pending", "done", "failed")
        }
        doc: dict[str, Any] = {
            "id": self.id,
            "rule": self.rule,
            "trigger": self.trigger,
            "started": self.started,
            "finished": self.finished,
            "status": self.status,
            "error": self.error,
            "total": len(self.items),
            **count,
            "bytes": sum(i.bytes for i in self.items),
            "blobs": sum(i.blobs for i in self.items),
        }
        if items:
            doc["items"] = [i.to_json() for i in self.items]
        return doc


def _item(r: tuple[object, ...]) -> ItemRow:
    i, run, kind, repo, tag, digest, dest, status, sent, blobs, attempts, error = r
    return ItemRow(
        int(str(i)), int(str(run)), str(kind), str(repo), str(tag), str(digest), str(dest),
        str(status), int(str(sent)), int(str(blobs)), int(str(attempts)), str(error),
    )  # fmt: skip


class ReplicationStore:
    def __init__(self, meta: MetaStore, secrets: SecretBox | None = None) -> None:
        self.meta = meta
        self.secrets = secrets
        meta.ensure_tables(SCHEMA)
        if secrets is not None:
            self._seal_clear_passwords()

    # --- sealing
    def _box(self) -> SecretBox:
        return need_box(self.secrets, "endpoint passwords", "the registry replication commands")

    def _sealed(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        """``endpoint`` as stored: its password sealed."""
        doc = dict(endpoint)
        password = doc.pop("password", "")
        if password:
            doc["password_sealed"] = self._box().seal(password)
        return doc

    def _opened(self, endpoint: dict[str, Any], what: str) -> dict[str, Any]:
        doc = dict(endpoint)
        sealed = doc.pop("password_sealed", "")
        if sealed:
            doc["password"] = self._box().open(str(sealed), what)
        return doc

    def _seal_clear_passwords(self) -> None:
        """Seal the passwords an earlier version stored in clear (inline endpoints of
        rules), rewriting those rows."""
        for name, raw in self.meta.query("SELECT name, doc FROM replication_rules"):
            doc = json.loads(str(raw))
            endpoint = doc.get("endpoint")
            if isinstance(endpoint, dict) and endpoint.get("password"):
                doc["endpoint"] = self._sealed(endpoint)
                with self.meta.transaction() as db:
                    db.execute(
                        "UPDATE replication_rules SET doc = ? WHERE name = ? AND doc = ?",
                        (json.dumps(doc, sort_keys=True), str(name), str(raw)),
                    )
                _LOG.warning("replication rule %s: its password was stored in clear;"
                             " sealed with %s", name, self._box().path)  # fmt: skip

    # --- endpoints
    def put_endpoint(self, endpoint: Endpoint) -> None:
        """Add ``endpoint`` (named), or replace the endpoint of its name."""
        doc = json.dumps(self._sealed(endpoint.to_stored()), sort_keys=True)
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO replication_endpoints (name, doc, created) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
                (endpoint.name, doc, time.time()),
            )

    def _endpoint(self, name: str, raw: object) -> Endpoint:
        what = f"replication endpoint {name}"
        return endpoint_from_json(self._opened(json.loads(str(raw)), what), name)

    def endpoint(self, name: str) -> Endpoint | None:
        rows = self.meta.query("SELECT doc FROM replication_endpoints WHERE name = ?", name)
        return self._endpoint(name, rows[0][0]) if rows else None

    def endpoints(self) -> list[Endpoint]:
        rows = self.meta.query("SELECT name, doc FROM replication_endpoints ORDER BY name")
        return [self._endpoint(str(n), d) for n, d in rows]

    def delete_endpoint(self, name: str) -> bool:
        with self.meta.transaction() as db:
            cur = db.execute("DELETE FROM replication_endpoints WHERE name = ?", (name,))
        return cur.rowcount > 0

    def rules_using(self, endpoint: str) -> list[str]:
        """The names of the rules that refer to endpoint ``endpoint``."""
        rows = self.meta.query("SELECT name, doc FROM replication_rules ORDER BY name")
        return [str(n) for n, d in rows if json.loads(str(d)).get("endpoint") == endpoint]

    # --- rules
    def put_rule(self, rule: ReplicationRule) -> None:
        """Add ``rule``, or replace the rule of its name."""
        doc = rule.to_stored()
        if isinstance(doc["endpoint"], dict):
            doc["endpoint"] = self._sealed(doc["endpoint"])
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO replication_rules (name, doc, created) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
                (rule.name, json.dumps(doc, sort_keys=True), time.time()),
            )

    def _rule(self, raw: object) -> ReplicationRule:
        doc = json.loads(str(raw))
        if isinstance(doc.get("endpoint"), dict):
            what = f"replication rule {doc.get('name')}"
            doc["endpoint"] = self._opened(doc["endpoint"], what)
        return rule_from_json(doc, self.endpoint)

    def rules(self) -> list[ReplicationRule]:
        rows = self.meta.query("SELECT doc FROM replication_rules ORDER BY name")
        return [self._rule(r[0]) for r in rows]

    def rule(self, name: str) -> ReplicationRule | None:
        rows = self.meta.query("SELECT doc FROM replication_rules WHERE name = ?", name)
        return self._rule(rows[0][0]) if rows else None

    def has_rule(self, name: str) -> bool:
        """Whether rule ``name`` exists (its password not opened)."""
        return bool(self.meta.query("SELECT 1 FROM replication_rules WHERE name = ?", name))

    def delete_rule(self, name: str) -> bool:
        with self.meta.transaction() as db:
            cur = db.execute("DELETE FROM replication_rules WHERE name = ?", (name,))
        return cur.rowcount > 0

    # --- runs
    def start_run(self, rule: str, trigger: str) -> int:
        now = time.time()
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO replication_runs (rule, trigger, started, finished, status, error)"
                " VALUES (?, ?, ?, NULL, 'running', '')",
                (rule, trigger, now),
            )
            row = db.execute(
                "SELECT max(id) FROM replication_runs WHERE rule = ? AND started = ?", (rule, now)
            ).fetchone()
        return int(row[0])

    def finish_run(self, run: int, status: str, error: str = "") -> None:
        with self.meta.transaction() as db:
            db.execute(
                "UPDATE replication_runs SET finished = ?, status = ?, error = ? WHERE id = ?",
                (time.time(), status, error[:1000], run),
            )

    def add_items(self, run: int, items: list[tuple[str, str, str, str, str]]) -> None:
        """Pending items: (kind, repository, tag, digest, destination)."""
        with self.meta.transaction() as db:
            db.executemany(
                "INSERT INTO replication_items (run, kind, repository, tag, digest, destination,"
                " status, bytes, blobs, attempts, error)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, 0, '')",
                [(run, *item) for item in items],
            )

    def record_item(
        self, item: int, status: str, sent: int, blobs: int, attempts: int, error: str
    ) -> None:
        with self.meta.transaction() as db:
            db.execute(
                "UPDATE replication_items SET status = ?, bytes = ?, blobs = ?, attempts = ?,"
                " error = ? WHERE id = ?",
                (status, sent, blobs, attempts, error[:1000], item),
            )

    def _run(self, r: tuple[object, ...], with_items: bool) -> RunRow:
        i, rule, trigger, started, finished, status, error = r
        items: tuple[ItemRow, ...] = ()
        if with_items:
            rows = self.meta.query(
                "SELECT * FROM replication_items WHERE run = ? ORDER BY id", int(str(i))
            )
            items = tuple(_item(x) for x in rows)
        return RunRow(
            int(str(i)), str(rule), str(trigger), float(str(started)),
            None if finished is None else float(str(finished)), str(status), str(error), items,
        )  # fmt: skip

    def running(self, rule: str | None = None) -> list[RunRow]:
        """The runs not finished (their items not read), oldest first."""
        sql = "SELECT * FROM replication_runs WHERE status = 'running'"
        if rule is None:
            rows = self.meta.query(sql + " ORDER BY id")
        else:
            rows = self.meta.query(sql + " AND rule = ? ORDER BY id", rule)
        return [self._run(r, False) for r in rows]

    def run(self, run: int) -> RunRow | None:
        rows = self.meta.query("SELECT * FROM replication_runs WHERE id = ?", run)
        return self._run(rows[0], True) if rows else None

    def runs(self, rule: str | None, limit: int = 50) -> list[RunRow]:
        if rule is None:
            rows = self.meta.query("SELECT * FROM replication_runs ORDER BY id DESC LIMIT ?", limit)
        else:
            rows = self.meta.query(
                "SELECT * FROM replication_runs WHERE rule = ? ORDER BY id DESC LIMIT ?",
                rule,
                limit,
            )
        return [self._run(r, True) for r in rows]
