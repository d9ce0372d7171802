"""The UI's changes: deleting a whole artifact (after a confirmation page), a project's
settings (scan and pull policy, quota, immutable tag rules) and its members. Each goes
through the same service call the ``/api/v1`` and ``/v2`` endpoints make, so the same
rules decide who may (project admins their policy and members, system admins quotas
and immutable rules, whoever may delete in a repository its artifacts); each change and
each refusal is audited as the API audits them, the detail starting with ``ui:``."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from imageforge.errors import Denied, ImageforgeError, InvalidArgument, NotFound
from imageforge.oci import Digest
from imageforge.registry._names import project_of
from imageforge.registry.auth import ROLES, Access
from imageforge.registry.events import Event, Resource
from imageforge.registry.meta import SEVERITIES
from imageforge.registry.service import parse_digest
from imageforge.registry.ui._views import artifact_view
from imageforge.registry.ui._web import Context, Web

__all__ = ["POLICY_SWITCHES", "Edits", "parse_size"]

_log = logging.getLogger("imageforge.registry.events")
# The policy's on/off settings, as the settings form names its checkboxes.
POLICY_SWITCHES = ("scan_on_push", "prevent_vulnerable", "require_signature", "refuse_root")
_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int | None:
    """A quota as typed: bytes, or a number with KiB, MiB, GiB or TiB; empty: None."""
    if not text.strip():
        return None
    found = _SIZE.fullmatch(text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS:
        raise InvalidArgument(
            f"quota {text!r} is not a size", hint="bytes, or a number with KiB, MiB, GiB, TiB"
        )
    return int(float(found.group(1)) * _UNITS[unit])


def _remote(ctx: Context) -> str:
    return ctx.request.client.host if ctx.request.client else ""


def _manage(ctx: Context, project: str) -> tuple[str, str, str]:
    """Where a management change is audited: as the API's, the project and the request."""
    return ("manage", project, f"{ctx.request.method} {ctx.request.url.path}")


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class Edits:
    # --- auditing, as the API's wrapper does: every change, every refusal
    async def _audited(
        self,
        web: Web,
        ctx: Context,
        where: tuple[str, str, str],
        detail: str,
        change: Callable[..., Any],
        *args: Any,
    ) -> Any:
        """``change(*args)``, audited as ``where`` (action, repository or project,
        reference) with ``detail``; a refusal (not allowed, not visible, not logged
        in) audited too, and raised."""
        action, repo, ref = where
        meta = web.state.meta
        try:
            done = await web.call(change, *args)
        except ImageforgeError as exc:
            if isinstance(exc, (Denied, NotFound)) or ctx.user is None:
                await web.call(
                    meta.audit_add, ctx.user, action, repo, ref, "refused", _remote(ctx),
                    f"ui: {exc.message}"[:500],
                )  # fmt: skip
            raise
        await web.call(meta.audit_add, ctx.user, action, repo, ref, "ok", _remote(ctx), detail)
        return done

    def _may_delete(self, web: Web, user: str | None, repo: str, what: str = "artifacts") -> None:
        wanted = Access("repository", repo, frozenset({"delete"}))
        if not web.state.access.allows(user, wanted):
            raise Denied(
                f"{user or 'anonymous'} may not delete {what} in {repo}",
                hint="deleting needs the maintainer or admin role in the project",
            )

    # --- deleting an artifact
    async def confirm_delete(self, web: Web, ctx: Context) -> Response:
        repo = ctx.request.query_params.get("repo", "").strip()
        digest = parse_digest(ctx.request.query_params.get("digest", "").strip())
        view = await web.call(artifact_view, web.state, ctx.user, repo, digest)
        await web.call(self._may_delete, web, ctx.user, repo)
        return web.render(ctx, "delete.html", a=view, project=project_of(repo))

    async def delete_artifact(self, web: Web, ctx: Context) -> Response:
        """Delete the manifest ``digest`` of ``repo`` with all its tags, as a
        ``DELETE /v2/<repo>/manifests/<digest>`` does."""
        repo, digest = ctx.field("repo"), parse_digest(ctx.field("digest"))
        state = web.state

        def delete() -> list[str]:
            self._may_delete(web, ctx.user, repo)
            tags = state.meta.tags_of(repo, digest)
            state.manifests.delete(repo, str(digest), ctx.user)  # the delete gates decide
            return tags

        tags = await self._audited(web, ctx, ("delete", repo, str(digest)), "ui", delete)
        _log.info("%s deleted %s@%s with its tags %s (ui)", ctx.user, repo, digest, tags)
        await self._emit(web, ctx, repo, str(digest), None)
        if await web.call(state.meta.repo_exists, repo):
            return web.redirect(ctx, f"/ui/repository?name={_quote(repo)}")
        return web.redirect(ctx, f"/ui/projects/{_quote(project_of(repo))}")  # it was the last

    async def delete_tag(self, web: Web, ctx: Context) -> Response:
        """Delete the tag ``tag`` of ``repo``, as ``DELETE /v2/<repo>/manifests/<tag>``."""
        repo, tag = ctx.field("repo"), ctx.field("tag")
        state = web.state

        def delete() -> Digest | None:
            self._may_delete(web, ctx.user, repo, "tags")
            digest = state.meta.resolve_tag(repo, tag)
            state.manifests.delete(repo, tag, ctx.user)  # the delete gates decide
            return digest

        digest = await self._audited(web, ctx, ("delete", repo, tag), "ui", delete)
        await self._emit(web, ctx, repo, str(digest), tag)
        return web.redirect(ctx, f"/ui/repository?name={_quote(repo)}")

    async def _emit(self, web: Web, ctx: Context, repo: str, digest: str, tag: str | None) -> None:
        """The delete event, as the API's: the webhooks (and any other sink) hear of it."""
        where = f"{ctx.request.url.netloc}/{repo}" + (f":{tag}" if tag else f"@{digest}")
        event = Event("delete", project_of(repo), ctx.user, repo, [Resource(digest, tag, where)])
        try:
            await web.call(web.state.events.emit, event)
        except Exception as exc:  # it is deleted: a sink that fails is logged
            _log.error("event delete of %s not emitted: %s", where, exc)

    # --- a project's settings
    def _back(self, web: Web, ctx: Context, page: str) -> Response:
        project = ctx.request.path_params["project"]
        return web.redirect(ctx, f"/ui/projects/{_quote(project)}/{page}?saved=1")

    async def set_policy(self, web: Web, ctx: Context) -> Response:
        project = ctx.request.path_params["project"]
        changes: dict[str, Any] = {k: bool(ctx.form.get(k)) for k in POLICY_SWITCHES}
        severity = ctx.field("severity").lower()
        if severity not in SEVERITIES:
            raise InvalidArgument(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        changes["severity"] = severity
        changes["required_attestation"] = ctx.field("required_attestation")
        detail = "ui: set policy " + " ".join(f"{k}={v}" for k, v in sorted(changes.items()))
        svc = web.state.policies
        await self._audited(
            web, ctx, _manage(ctx, project), detail, svc.set_policy, ctx.user, project,
            changes,
        )  # fmt: skip
        return self._back(web, ctx, "settings")

    async def set_quota(self, web: Web, ctx: Context) -> Response:
        project = ctx.request.path_params["project"]
        limit = parse_size(ctx.field("limit"))
        warn = ctx.field("warn_percent") or "80"
        if not warn.isdigit():
            raise InvalidArgument(f"warning share {warn!r} is not a percentage (1-100)")
        svc = web.state.manage
        detail = "ui: remove quota" if limit is None else f"ui: set quota {limit} bytes"
        await self._audited(
            web, ctx, _manage(ctx, project), detail, svc.set_quota, ctx.user, project,
            limit, int(warn),
        )  # fmt: skip
        return self._back(web, ctx, "settings")

    async def set_immutable(self, web: Web, ctx: Context) -> Response:
        project = ctx.request.path_params["project"]
        rules = [r.strip() for r in ctx.form.get("rules", "").splitlines() if r.strip()]
        svc = web.state.manage
        detail = f"ui: set immutable tags {', '.join(rules) or 'none'}"[:500]
        await self._audited(
            web, ctx, _manage(ctx, project), detail, svc.set_immutable, ctx.user,
            project, rules,
        )  # fmt: skip
        return self._back(web, ctx, "settings")

    # --- members
    async def set_member(self, web: Web, ctx: Context) -> Response:
        project = ctx.request.path_params["project"]
        who, role = ctx.field("user"), ctx.field("role")
        if role not in ROLES:
            raise InvalidArgument(f"role {role!r} is not one of {', '.join(ROLES)}")
        svc = web.state.manage
        await self._audited(
            web, ctx, _manage(ctx, project), f"ui: set member {who}={role}",
            svc.set_member, ctx.user, project, who, role,
        )  # fmt: skip
        return self._back(web, ctx, "members")

    async def remove_member(self, web: Web, ctx: Context) -> Response:
        project = ctx.request.path_params["project"]
        who = ctx.field("user")
        svc = web.state.manage
        await self._audited(
            web, ctx, _manage(ctx, project), f"ui: remove member {who}",
            svc.remove_member, ctx.user, project, who,
        )  # fmt: skip
        return self._back(web, ctx, "members")
