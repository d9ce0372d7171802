"""Proxy-cache projects' table: which project mirrors which upstream, with the
credentials it logs in with. The password is kept as webhook secrets are (it must be
sent to the upstream, so it cannot be hashed as user and robot secrets are): in the
metadata database, which only the registry's user may read, and never shown."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

from imageforge.errors import InvalidArgument
from imageforge.registry.meta import MetaStore
from imageforge.registry.proxy._upstream import UpstreamSpec

__all__ = ["ProxyStore", "projects_changed", "projects_changes", "check_upstream_url", "spec_json"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS proxy_projects (
    project TEXT PRIMARY KEY, url TEXT NOT NULL, username TEXT, password TEXT,
    created DOUBLE PRECISION NOT NULL);
"""


def check_upstream_url(url: str) -> str:
    """``url`` without a trailing slash, if it is ``http(s)://host[:port]``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"upstream {url!r} is not an http(s) URL",
            hint="e.g. --proxy-for https://registry-1.docker.io",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InvalidArgument(
            f"upstream {url!r} must be scheme://host[:port] only",
            hint="credentials go in --username/--password-stdin",
        )
    return f"{parts.scheme}://{parts.netloc}"


_changes_lock = threading.Lock()
_changes = [0]


def projects_changed() -> None:
    """Note that proxy projects were added, changed or removed in this process (the
    caches of :func:`projects_changes` load them again)."""
    with _changes_lock:
        _changes[0] += 1


def projects_changes() -> int:
    """How many times proxy projects changed in this process."""
    with _changes_lock:
        return _changes[0]


class ProxyStore:
    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        meta.ensure_tables(SCHEMA, project_tables=("proxy_projects",))

    def add(self, project: str, spec: UpstreamSpec) -> None:
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO proxy_projects VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (project) DO UPDATE SET url = excluded.url,"
                " username = excluded.username, password = excluded.password",
                (project, spec.url, spec.username, spec.password, time.time()),
            )
        projects_changed()

    def get(self, project: str) -> UpstreamSpec | None:
        rows = self.meta.query(
            "SELECT url, username, password FROM proxy_projects WHERE project = ?", project
        )
        if not rows:
            return None
        url, user, password = rows[0]
        return UpstreamSpec(
            str(url),
            None if user is None else str(user),
            None if password is None else str(password),
        )

    def remove(self, project: str) -> None:
        with self.meta.transaction() as db:
            db.execute("DELETE FROM proxy_projects WHERE project = ?", (project,))
        projects_changed()

    def projects(self) -> set[str]:
        return {str(r[0]) for r in self.meta.query("SELECT project FROM proxy_projects")}

    def specs(self) -> dict[str, UpstreamSpec]:
        """Every proxy project's upstream (one query)."""
        rows = self.meta.query("SELECT project, url, username, password FROM proxy_projects")
        return {
            str(project): UpstreamSpec(
                str(url),
                None if user is None else str(user),
                None if password is None else str(password),
            )
            for project, url, user, password in rows
        }


def spec_json(spec: UpstreamSpec) -> dict[str, Any]:
    """As shown to users: never the password."""
    return {"proxy_for": spec.url, "username": spec.username}
