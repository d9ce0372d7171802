"""Webhooks' tables: each project's webhooks, and the deliveries (pending, delivered or
failed, with every attempt's status code or error). A pending delivery is a row, so it
survives a restart; a worker claims a due one by moving its next attempt past the
request's timeout in one transaction, so two servers on one database never send it
twice at once.

A webhook's secret is sealed with the registry's secret key (``registry._secrets``), so
a dump of the database does not let anyone sign deliveries; secrets an older version
stored in clear are sealed the first time the store is opened with the key."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from imageforge.registry._secrets import SecretBox, is_sealed, need_box
from imageforge.registry.meta import MetaStore

__all__ = ["DeliveryRow", "HookRow", "WebhookStore"]

_LOG = logging.getLogger("imageforge.registry.webhooks")

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id {serial}, project TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
    secret TEXT NOT NULL, events TEXT NOT NULL, enabled INTEGER NOT NULL,
    created DOUBLE PRECISION NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS webhooks_name ON webhooks (project, name);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id {serial}, webhook BIGINT NOT NULL, project TEXT NOT NULL, event TEXT NOT NULL,
    payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_at DOUBLE PRECISION NOT NULL, status INTEGER, error TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, log TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_hook ON webhook_deliveries (webhook, id);
"""


@dataclass(frozen=True)
class HookRow:
    id: int
    project: str
    name: str
    url: str
    secret_sealed: str  # as stored: opened by WebhookStore.secret
    events: frozenset[str]
    enabled: bool
    created: float

    def to_json(self) -> dict[str, Any]:
        """As the API shows it: never the secret."""
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "url": self.url,
            "events": sorted(self.events),
            "enabled": self.enabled,
            "created": self.created,
        }


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    webhook: int
    project: str
    event: str
    payload: str
    state: str  # pending, delivered or failed
    attempts: int
    next_at: float
    status: int | None  # of the last attempt; None: no answer
    error: str
    created: float
    log: list[dict[str, Any]]  # each attempt: time, status, error

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook": self.webhook,
            "event": self.event,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt": self.next_at if self.state == "pending" else None,
            "status": self.status,
            "error": self.error,
            "created": self.created,
            "log": self.log,
        }


def _hook(r: tuple[object, ...]) -> HookRow:
    i, project, name, url, secret, events, enabled, created = r
    return HookRow(
        int(str(i)),
        str(project),
        str(name),
        str(url),
        str(secret),
        frozenset(e for e in str(events).split(",") if e),
        bool(enabled),
        float(str(created)),
    )


def _delivery(r: tuple[object, ...]) -> DeliveryRow:
    i, hook, project, event, payload, state, attempts, next_at, status, error, created, log = r
    return DeliveryRow(
        int(str(i)),
        int(str(hook)),
        str(project),
        str(event),
        str(payload),
        str(state),
        int(str(attempts)),
        float(str(next_at)),
        None if status is None else int(str(status)),
        str(error),
        float(str(created)),
        list(json.loads(str(log))),
    )


class WebhookStore:
    def __init__(self, meta: MetaStore, secrets: SecretBox | None = None) -> None:
        self.meta = meta
        self.secrets = secrets
        meta.ensure_tables(SCHEMA, project_tables=("webhooks", "webhook_deliveries"))
        if secrets is not None:
            self._seal_clear_secrets(secrets)

    # --- sealing
    def _box(self) -> SecretBox:
        return need_box(self.secrets, "webhook secrets", "the registry webhook commands")

    def _seal_clear_secrets(self, box: SecretBox) -> None:
        """Seal the secrets an older version stored in clear, rewriting those rows."""
        for hook_id, project, name, stored in self.meta.query(
            "SELECT id, project, name, secret FROM webhooks"
        ):
            if is_sealed(str(stored)):
                continue
            with self.meta.transaction() as db:
                cur = db.execute(  # unless another process sealed or changed it meanwhile
                    "UPDATE webhooks SET secret = ? WHERE id = ? AND secret = ?",
                    (box.seal_value(str(stored)), hook_id, str(stored)),
                )
            if cur.rowcount == 1:
                _LOG.warning("webhook %s of project %s: its secret was stored in clear;"
                             " sealed with %s", name, project, box.path)  # fmt: skip

    def secret(self, hook: HookRow) -> str:
        """The webhook's secret, opened; InvalidArgument naming the key file if this
        registry's secret key did not seal it."""
        what = f"webhook {hook.name} of project {hook.project}"
        return self._box().open_value(hook.secret_sealed, what, "secret")

    # --- webhooks
    def add(self, project: str, name: str, url: str, secret: str, events: frozenset[str]) -> int:
        sealed = self._box().seal_value(secret)
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO webhooks (project, name, url, secret, events, enabled, created)"
                " VALUES (?, ?, ?, ?, ?, 1, ?)",
                (project, name, url, sealed, ",".join(sorted(events)), time.time()),
            )
            row = db.execute(
                "SELECT id FROM webhooks WHERE project = ? AND name = ?", (project, name)
            ).fetchone()
        return int(row[0])

    def hooks(self, project: str) -> list[HookRow]:
        rows = self.meta.query("SELECT * FROM webhooks WHERE project = ? ORDER BY id", project)
        return [_hook(r) for r in rows]

    def hook(self, hook_id: int) -> HookRow | None:
        rows = self.meta.query("SELECT * FROM webhooks WHERE id = ?", hook_id)
        return _hook(rows[0]) if rows else None

    def delete(self, hook_id: int) -> bool:
        with self.meta.transaction() as db:
            cur = db.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,))
            db.execute(
                "UPDATE webhook_deliveries SET state = 'failed', error = 'webhook deleted'"
                " WHERE webhook = ? AND state = 'pending'",
                (hook_id,),
            )
        return cur.rowcount > 0

    # --- deliveries
    def enqueue(self, rows: list[tuple[int, str, str, str]]) -> None:
        """Pending deliveries, due now: (webhook, project, event type, payload)."""
        now = time.time()
        with self.meta.transaction() as db:
            db.executemany(
                "INSERT INTO webhook_deliveries (webhook, project, event, payload, state,"
                " attempts, next_at, status, error, created, log)"
                " VALUES (?, ?, ?, ?, 'pending', 0, ?, NULL, '', ?, '[]')",
                [(h, p, e, body, now, now) for h, p, e, body in rows],
            )

    def claim(self, now: float, hold: float, limit: int = 10) -> list[DeliveryRow]:
        """Up to ``limit`` due pending deliveries, each held ``hold`` seconds (not due
        again for anyone until then)."""
        with self.meta.transaction() as db:
            rows = db.execute(
                "SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ?"
                " ORDER BY next_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE webhook_deliveries SET next_at = ? WHERE id = ?",
                [(now + hold, r[0]) for r in rows],
            )
        return [_delivery(r) for r in rows]

    def record(
        self, d: DeliveryRow, status: int | None, error: str, state: str, next_at: float
    ) -> None:
        """One attempt's result; the delivery's new state."""
        entry = {"time": time.time(), "status": status, "error": error}
        with self.meta.transaction() as db:
            row = db.execute("SELECT log FROM webhook_deliveries WHERE id = ?", (d.id,)).fetchone()
            log = [*json.loads(str(row[0])), entry][-20:] if row else [entry]
            db.execute(
                "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1,"
                " next_at = ?, status = ?, error = ?, log = ? WHERE id = ?",
                (state, next_at, status, error[:500], json.dumps(log), d.id),
            )

    def deliveries(self, hook_id: int, limit: int = 100) -> list[DeliveryRow]:
        rows = self.meta.query(
            "SELECT * FROM webhook_deliveries WHERE webhook = ? ORDER BY id DESC LIMIT ?",
            hook_id,
            limit,
        )
        return [_delivery(r) for r in rows]
