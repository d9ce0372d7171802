"""The events a Distribution API response stands for, handed to the registry's event
sink (``state.events``): a manifest GET is a pull, a manifest PUT a push (and, if the
project is past its quota's warning share, a quota warning), a manifest or tag DELETE
a delete, a push refused for the quota a quota-exceeded event."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from imageforge.registry._names import project_of
from imageforge.registry.api._io import run
from imageforge.registry.events import Event, Resource
from imageforge.registry.meta import QuotaExceeded
from imageforge.registry.service import RegistryState

__all__ = ["notify"]

_log = logging.getLogger("imageforge.registry.events")
_ACTIONS = {"GET": "pull", "PUT": "push", "DELETE": "delete"}


def _event(request: Request, repo: str, ref: str, resp: Response) -> Event | None:
    action = _ACTIONS.get(request.method)
    if action is None or not 200 <= resp.status_code < 300:
        return None
    by_digest = ":" in ref
    digest = resp.headers.get("docker-content-digest", ref if by_digest else "")
    tag = None if by_digest else ref
    where = f"{request.url.netloc}/{repo}"
    url = f"{where}:{tag}" if tag else f"{where}@{digest}"
    user: str | None = getattr(request.state, "user", None)
    return Event(action, project_of(repo), user, repo, [Resource(digest, tag, url)])


def _quota_event(state: RegistryState, event: Event) -> Event | None:
    quota = state.meta.quota(event.project)
    if quota is None:
        return None
    used = state.meta.usage(event.project).used
    if used * 100 < quota.limit * quota.warn_percent:
        return None
    data = {"quota": {"limit": quota.limit, "used": used, "warn_percent": quota.warn_percent}}
    return Event("quota_warning", event.project, event.operator, event.repository, (), data)


def _emit(state: RegistryState, event: Event) -> None:
    state.events.emit(event)
    if event.type == "push":
        warning = _quota_event(state, event)
        if warning is not None:
            state.events.emit(warning)


async def notify(
    state: RegistryState,
    request: Request,
    kind: str,
    repo: str,
    ref: str,
    resp: Response,
    error: Exception | None,
) -> None:
    """Emit what ``resp`` (to a request on ``kind``, the route kind) did, if anything.
    A sink that fails is logged: the request has been served."""
    event: Event | None = None
    if kind == "manifest":
        event = _event(request, repo, ref, resp)
    if isinstance(error, QuotaExceeded):
        user: str | None = getattr(request.state, "user", None)
        event = Event("quota_exceeded", project_of(repo), user, repo, (), {"message": str(error)})
    if event is None:
        return
    try:
        await run(_emit, state, event)  # a webhook's row is a write: not on the loop
    except Exception as exc:
        _log.error("event %s of %s not emitted: %s", event.type, repo, exc)
