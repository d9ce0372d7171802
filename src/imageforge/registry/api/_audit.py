"""The audit log's entries for the Distribution API: pulls (manifest GET), pushes
(manifest PUT), deletes and every refusal (401/403 anywhere but the ``/v2/`` ping), with
who, what, when and from where.

An entry that cannot be written (a full disk, a database gone read-only) is logged and
dropped: the request it describes has been served, and a pull must never fail because
its audit row could not be stored.
"""

from __future__ import annotations

import logging

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from imageforge.registry.meta import MetaStore

__all__ = ["record", "record_response", "remote_of"]

_log = logging.getLogger("imageforge.registry.audit")

_ACTIONS = {"GET": "pull", "HEAD": "pull", "PUT": "push", "PATCH": "push", "POST": "push"}


def remote_of(request: Request) -> str:
    return request.client.host if request.client else ""


async def record(
    meta: MetaStore,
    request: Request,
    user: str | None,
    action: str,
    repo: str,
    ref: str,
    result: str,
    detail: str = "",
) -> None:
    try:
        await to_thread.run_sync(
            meta.audit_add, user, action, repo, ref, result, remote_of(request), detail
        )
    except Exception as exc:  # any store failure: the request itself was served
        _log.error(
            "audit entry not written (%s %s/%s by %s, %s): %s",
            action,
            repo,
            ref,
            user or "anonymous",
            result,
            exc,
        )


async def record_response(
    meta: MetaStore, request: Request, kind: str, name: str, ref: str, resp: Response
) -> None:
    """Log what ``resp`` did to ``kind`` (the route kind) if it is worth logging."""
    user: str | None = getattr(request.state, "user", None)
    method = request.method
    action = "delete" if method == "DELETE" else _ACTIONS.get(method, method.lower())
    if kind == "catalog":
        action = "catalog"
    status = resp.status_code
    if status in (401, 403) and kind != "base":
        detail = resp.body.decode(errors="replace")[:500] if isinstance(resp.body, bytes) else ""
        await record(meta, request, user, action, name, ref, "refused", detail)
    elif kind == "manifest" and 200 <= status < 300 and method != "HEAD":
        digest = resp.headers.get("docker-content-digest", "")
        await record(meta, request, user, action, name, ref, "ok", digest)
    elif kind == "blob" and method == "DELETE" and 200 <= status < 300:
        await record(meta, request, user, action, name, ref, "ok")
