"""Webhooks per project: who may manage them, the targets allowed, and the event sink
that turns each event into pending deliveries (Harbor's payload, :func:`payload`).

Targets: ``http://`` or ``https://`` URLs only. Loopback and private addresses are
allowed by default, as Harbor allows them (a webhook receiver often runs beside the
registry); a registry whose admins want no requests into its own network sets
``webhook_private_targets = false``, and then a URL whose host is or resolves to a
loopback, private, link-local or otherwise non-global address is refused when it is
added and again at every delivery (the name may resolve elsewhere by then).
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from imageforge.errors import Denied, InvalidArgument, NotFound
from imageforge.registry._secrets import SecretBox
from imageforge.registry.events import EVENT_TYPES, Event
from imageforge.registry.meta import MetaStore
from imageforge.registry.webhooks._store import DeliveryRow, HookRow, WebhookStore

__all__ = ["ProjectAccess", "Webhooks", "check_target", "payload"]

NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$"
_CACHE_SECONDS = 2.0  # how long a server goes on using a project's list of webhooks


class ProjectAccess(Protocol):
    """Who may see and administer a project (the management service)."""

    def project(self, by: str | None, name: str) -> dict[str, Any]: ...

    def require_project_admin(self, by: str | None, name: str) -> Any: ...


def check_target(url: str, private_ok: bool, resolve: bool = True) -> str:
    """``url`` if a webhook may post to it; InvalidArgument (a wrong URL) or Denied (a
    non-global address while those are not allowed) naming why."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a bracket not closed, a port that is not a number
        raise InvalidArgument(f"webhook URL {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidArgument(
            f"webhook URL {url!r} is not an http:// or https:// URL with a host",
            hint="e.g. https://ci.example/hooks/registry",
        )
    if private_ok or not resolve:
        return url
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise InvalidArgument(f"webhook host {host} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise Denied(
                f"webhook host {host} is {address}, not a public address",
                hint="this registry sends webhooks to public addresses only"
                " (webhook_private_targets = false)",
            )
    return url


def payload(event: Event) -> dict[str, Any]:
    """The JSON a receiver gets: Harbor's shape (see docs/registry-webhooks.md)."""
    namespace, _, name = event.repository.partition("/")
    data: dict[str, Any] = {
        "resources": [
            {"digest": r.digest, "tag": r.tag, "resource_url": r.resource_url}
            for r in event.resources
        ],
    }
    if event.repository:
        data["repository"] = {
            "name": name or namespace,
            "namespace": namespace if name else "library",
            "repo_full_name": event.repository,
        }
    data.update(event.data)
    return {
        "type": EVENT_TYPES[event.type],
        "event": event.type,
        "occur_at": int(event.occur_at),
        "operator": event.operator or "anonymous",
        "project": event.project,
        "event_data": data,
    }


def _check_events(events: list[str]) -> frozenset[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidArgument(
            f"webhook events {unknown or events!r}: choose from {', '.join(EVENT_TYPES)}"
        )
    return frozenset(events)


class Webhooks:
    """The registry's webhooks: managed through :class:`ProjectAccess`, fed by
    :meth:`emit` (an event sink)."""

    def __init__(
        self,
        meta: MetaStore,
        *,
        private_targets: bool = True,
        retry_base: float = 10.0,  # seconds before the first retry; doubled each time
        attempts: int = 8,  # attempts before a delivery is failed
        now: Callable[[], float] = time.monotonic,
        secrets: SecretBox | None = None,  # seals the secrets (needed to add or deliver)
    ) -> None:
        self.store = WebhookStore(meta, secrets)
        self.private_targets = private_targets
        self.retry_base = retry_base
        self.attempts = attempts
        self._now = now
        self._cache: dict[str, tuple[float, list[HookRow]]] = {}
        self._lock = threading.Lock()

    # --- the sink
    def _hooks(self, project: str) -> list[HookRow]:
        with self._lock:
            cached = self._cache.get(project)
        if cached is not None and self._now() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        hooks = [h for h in self.store.hooks(project) if h.enabled]
        with self._lock:
            self._cache[project] = (self._now(), hooks)
        return hooks

    def emit(self, event: Event) -> None:
        """A pending delivery to each of the project's webhooks that wants the event."""
        wanting = [h for h in self._hooks(event.project) if event.type in h.events]
        if not wanting:
            return
        body = json.dumps(payload(event), sort_keys=True)
        self.store.enqueue([(h.id, event.project, event.type, body) for h in wanting])

    def _forget(self, project: str) -> None:
        with self._lock:
            self._cache.pop(project, None)

    # --- management
    def add(
        self,
        access: ProjectAccess,
        by: str | None,
        project: str,
        name: str,
        url: str,
        events: list[str],
        secret: str | None = None,
    ) -> tuple[HookRow, str]:
        """Add a webhook (project admins): the row and its secret (generated unless
        given), shown only now."""
        access.require_project_admin(by, project)
        if not re.fullmatch(NAME_PATTERN, name):
            raise InvalidArgument(f"invalid webhook name {name!r}", hint="a-z 0-9 . _ -")
        wanted = _check_events(events)
        check_target(url, self.private_targets)
        if any(h.name == name for h in self.store.hooks(project)):
            raise InvalidArgument(f"project {project} has a webhook named {name} already")
        secret = secret or secrets.token_urlsafe(32)
        hook_id = self.store.add(project, name, url, secret, wanted)
        self._forget(project)
        row = self.store.hook(hook_id)
        assert row is not None
        return row, secret

    def hooks_of(self, access: ProjectAccess, by: str | None, project: str) -> list[HookRow]:
        access.require_project_admin(by, project)
        return self.store.hooks(project)

    def _find(self, project: str, ref: str) -> HookRow:
        for h in self.store.hooks(project):
            if h.name == ref or str(h.id) == ref:
                return h
        raise NotFound(f"project {project} has no webhook {ref!r}")

    def get(self, access: ProjectAccess, by: str | None, project: str, ref: str) -> HookRow:
        access.require_project_admin(by, project)
        return self._find(project, ref)

    def delete(self, access: ProjectAccess, by: str | None, project: str, ref: str) -> HookRow:
        """Delete a webhook (by name or id); its pending deliveries fail."""
        access.require_project_admin(by, project)
        hook = self._find(project, ref)
        self.store.delete(hook.id)
        self._forget(project)
        return hook

    def deliveries(
        self, access: ProjectAccess, by: str | None, project: str, ref: str, limit: int = 100
    ) -> list[DeliveryRow]:
        """The webhook's deliveries, newest first, with each attempt's status code."""
        access.require_project_admin(by, project)
        return self.store.deliveries(self._find(project, ref).id, limit)
