"""Proxy-cache projects' table: which project mirrors which upstream, with the
credentials it logs in with. The password must be sent to the upstream, so it cannot be
hashed as user and robot secrets are: it is sealed with the registry's secret key
(``registry._secrets``, as webhook secrets and replication passwords are) and never
shown. Passwords an older version stored in clear are sealed the first time the store
is opened with the key. Specs read from the table carry the password as stored;
:meth:`ProxyStore.opened` opens it when an upstream is logged in to."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from imageforge.errors import InvalidArgument
from imageforge.registry._secrets import SecretBox, is_sealed, need_box
from imageforge.registry.meta import MetaStore
from imageforge.registry.proxy._upstream import UpstreamSpec

__all__ = ["ProxyStore", "projects_changed", "projects_changes", "check_upstream_url", "spec_json"]

_LOG = logging.getLogger("imageforge.registry.proxy")

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
    def __init__(self, meta: MetaStore, secrets: SecretBox | None = None) -> None:
        self.meta = meta
        self.secrets = secrets
        meta.ensure_tables(SCHEMA, project_tables=("proxy_projects",))
        if secrets is not None:
            self._seal_clear_passwords(secrets)

    # --- sealing
    def _box(self) -> SecretBox:
        return need_box(self.secrets, "upstream passwords", "the registry project commands")

    def _seal_clear_passwords(self, box: SecretBox) -> None:
        """Seal the passwords an older version stored in clear, rewriting those rows."""
        rows = self.meta.query(
            "SELECT project, password FROM proxy_projects WHERE password IS NOT NULL"
        )
        for project, stored in rows:
            if is_sealed(str(stored)):
                continue
            with self.meta.transaction() as db:
                cur = db.execute(  # unless another process sealed or changed it meanwhile
                    "UPDATE proxy_projects SET password = ? WHERE project = ? AND password = ?",
                    (box.seal_value(str(stored)), str(project), str(stored)),
                )
            if cur.rowcount == 1:
                _LOG.warning("proxy project %s: its upstream password was stored in clear;"
                             " sealed with %s", project, box.path)  # fmt: skip

    def check_sealing(self) -> None:
        """Unsupported if there is no secret key to seal a password with, or why the
        key cannot be read."""
        self._box().ready()

    def opened(self, project: str, spec: UpstreamSpec) -> UpstreamSpec:
        """``spec`` as read from the table, with its password opened (InvalidArgument
        naming the key file if this registry's secret key did not seal it)."""
        if spec.password is None:
            return spec
        what = f"proxy project {project}'s upstream"
        return dataclasses.replace(spec, password=self._box().open_value(spec.password, what))

    def add(self, project: str, spec: UpstreamSpec) -> None:
        password = None if spec.password is None else self._box().seal_value(spec.password)
        with self.meta.transaction() as db:
            db.execute(
                "INSERT INTO proxy_projects VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (project) DO UPDATE SET url = excluded.url,"
                " username = excluded.username, password = excluded.password",
                (project, spec.url, spec.username, password, time.time()),
            )
        projects_changed()

    def get(self, project: str) -> UpstreamSpec | None:
        """The upstream of ``project``, its password as stored (see :meth:`opened`)."""
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
        """Every proxy project's upstream (one query), passwords as stored."""
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
