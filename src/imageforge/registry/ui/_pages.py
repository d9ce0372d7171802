"""The UI's pages and actions. Each reads or changes the registry through its services,
as the logged-in user (``ctx.user``), so a page shows only what the API would: the
same ``Authorizer`` and the same management rules decide."""

from __future__ import annotations

import logging
import math
import urllib.parse
from typing import Any

from starlette.responses import Response

from imageforge.errors import Conflict, InvalidArgument, Unauthorized
from imageforge.registry._names import project_of
from imageforge.registry.auth import (
    ROBOT_ACTIONS,
    ROLES,
    Access,
    credential_version,
    is_robot,
    robot_name,
)
from imageforge.registry.meta import SEVERITIES
from imageforge.registry.retention import Retention
from imageforge.registry.service import LoginLocked, parse_digest
from imageforge.registry.ui._edits import POLICY_SWITCHES
from imageforge.registry.ui._provenance import build_steps, provenance_view
from imageforge.registry.ui._views import artifact_view, repository_artifacts, when
from imageforge.registry.ui._web import Context, Web

__all__ = ["Pages"]

_AUDIT_LIMIT = 200
_log = logging.getLogger("imageforge.registry.events")


def _need_login(ctx: Context) -> str:
    if ctx.user is None:
        raise Unauthorized("log in to see this page")
    return ctx.user


def _remote(ctx: Context) -> str:
    return ctx.request.client.host if ctx.request.client else ""


def _param(ctx: Context, name: str) -> str:
    return ctx.request.query_params.get(name, "").strip()


def _pull_command(ctx: Context, repo: str, ref: str) -> str:
    sep = "@" if ref.startswith("sha256:") else ":"
    return f"docker pull {ctx.request.url.netloc}/{repo}{sep}{ref}"


class Pages:
    def __init__(self, retention: Retention) -> None:
        self.retention = retention

    # --- logging in and out
    async def login_form(self, web: Web, ctx: Context) -> Response:
        return web.render(ctx, "login.html", message="")

    async def login(self, web: Web, ctx: Context) -> Response:
        name, password = ctx.field("username"), ctx.form.get("password", "")
        state = web.state
        try:
            if is_robot(name):
                raise Unauthorized("robot accounts cannot log in to the web UI")
            stored = await web.call(state.access.login, name, password, _remote(ctx))
        except Unauthorized as exc:
            await web.call(
                state.meta.audit_add,
                name,
                "login",
                "",
                "",
                "refused",
                _remote(ctx),
                f"ui: {exc.message}",
            )
            return web.render(ctx, "login.html", 401, message=exc.message)
        except LoginLocked as exc:  # too many failures lately (audited by login)
            return web.render(ctx, "login.html", 429, message=exc.message)
        session = web.sessions.new(name, credential_version(stored))
        return web.redirect(ctx, "/ui/projects", session)

    async def logout(self, web: Web, ctx: Context) -> Response:
        return web.redirect(ctx, "/ui/login", web.sessions.new())

    # --- projects and repositories
    async def projects(self, web: Web, ctx: Context) -> Response:
        svc = web.state.manage
        rows = await web.call(svc.projects, ctx.user)
        repos: list[str] = await web.call(svc.repositories, ctx.user)
        counts: dict[str, int] = {}
        for repo in repos:
            counts[project_of(repo)] = counts.get(project_of(repo), 0) + 1
        out = []
        for row in rows:
            quota = await web.call(svc.quota, ctx.user, row["name"])
            out.append({**row, "repositories": counts.get(row["name"], 0), "quota": quota})
        return web.render(ctx, "projects.html", projects=out)

    async def search(self, web: Web, ctx: Context) -> Response:
        q = _param(ctx, "q")
        repos: list[str] = await web.call(web.state.manage.repositories, ctx.user)
        found = [r for r in repos if q.lower() in r.lower()] if q else []
        return web.render(ctx, "search.html", q=q, found=found[:500], more=len(found) > 500)

    async def project(self, web: Web, ctx: Context) -> Response:
        name = ctx.request.path_params["project"]
        svc = web.state.manage
        row = await web.call(svc.project, ctx.user, name)
        quota = await web.call(svc.quota, ctx.user, name)
        repos = await web.call(svc.repositories, ctx.user, name)
        role = await web.call(web.state.authorizer.role, ctx.user, name)
        return web.render(ctx, "project.html", project=row, quota=quota, repos=repos, role=role)

    async def repository(self, web: Web, ctx: Context) -> Response:
        repo = _param(ctx, "name")
        artifacts = await web.call(repository_artifacts, web.state, ctx.user, repo)
        may_delete = await web.call(
            web.state.access.allows, ctx.user, Access("repository", repo, frozenset({"delete"}))
        )
        return web.render(
            ctx,
            "repository.html",
            repo=repo,
            project=project_of(repo),
            artifacts=artifacts,
            may_delete=may_delete,
            pull=lambda ref: _pull_command(ctx, repo, ref),
        )

    async def artifact(self, web: Web, ctx: Context) -> Response:
        repo = _param(ctx, "repo")
        digest = parse_digest(_param(ctx, "digest"))
        view = await web.call(artifact_view, web.state, ctx.user, repo, digest)
        counts = (view.scan.get("summary") or {}).get("summary") or {}
        severities = [(s.capitalize(), counts.get(s.capitalize(), 0)) for s in reversed(SEVERITIES)]
        tab = _param(ctx, "tab") or "layers"
        return web.render(
            ctx,
            "artifact.html",
            a=view,
            project=project_of(repo),
            severities=severities,
            tab=tab,
            pull=_pull_command(ctx, repo, view.tags[0] if view.tags else view.digest),
        )

    async def provenance(self, web: Web, ctx: Context) -> Response:
        repo = _param(ctx, "repo")
        digest = parse_digest(_param(ctx, "digest"))
        view = await web.call(artifact_view, web.state, ctx.user, repo, digest)
        found = await web.call(provenance_view, web.state, ctx.user, view)
        return web.render(
            ctx,
            "provenance.html",
            a=view,
            p=found,
            project=project_of(repo),
            steps=build_steps(view.config),
        )

    async def scan(self, web: Web, ctx: Context) -> Response:
        user = _need_login(ctx)
        repo, digest = ctx.field("repo"), parse_digest(ctx.field("digest"))
        await web.call(web.state.policies.start, user, repo, digest)
        await web.call(
            web.state.meta.audit_add, user, "scan", repo, str(digest), "ok", _remote(ctx), "ui"
        )
        return web.redirect(
            ctx, f"/ui/artifact?repo={_quote(repo)}&digest={digest}&tab=vulnerabilities"
        )

    # --- members, robots, settings, audit
    async def members(self, web: Web, ctx: Context) -> Response:
        name = ctx.request.path_params["project"]
        user = _need_login(ctx)
        rows = await web.call(web.state.manage.members, user, name)
        may_manage = await web.call(web.state.authorizer.role, user, name) == "admin"
        return web.render(
            ctx,
            "members.html",
            project=name,
            members=rows,
            may_manage=may_manage,
            roles=ROLES,
            saved=bool(_param(ctx, "saved")),
        )

    async def robots(self, web: Web, ctx: Context) -> Response:
        name = ctx.request.path_params["project"]
        rows = await web.call(web.state.manage.robots, _need_login(ctx), name)
        return web.render(
            ctx,
            "robots.html",
            project=name,
            robots=rows,
            created=None,
            actions=sorted(ROBOT_ACTIONS),
            when=when,
        )

    async def add_robot(self, web: Web, ctx: Context) -> Response:
        user = _need_login(ctx)
        project = ctx.request.path_params["project"]
        actions = frozenset(a for a in ROBOT_ACTIONS if ctx.form.get(f"action_{a}"))
        if not actions:
            raise InvalidArgument("a robot account needs at least one action", hint="tick pull")
        days = ctx.field("days")
        expires = None
        if days:
            try:
                n = float(days)
            except ValueError:
                n = math.nan
            if not math.isfinite(n) or n <= 0:
                raise InvalidArgument(f"expiry {days!r} is not a number of days", hint="e.g. 30")
            expires = n * 86400
        svc = web.state.manage
        full = robot_name(project, ctx.field("name"))
        if await web.call(web.state.meta.robot, full) is not None:
            # the API replaces a robot; a form sent twice (a reload) must not
            raise Conflict(f"robot {full} exists", hint="delete it first to make a new secret")
        row, secret = await web.call(
            svc.add_robot, user, project, ctx.field("name"), actions, expires
        )
        await web.call(
            web.state.meta.audit_add,
            user,
            "manage",
            "",
            "",
            "ok",
            _remote(ctx),
            f"ui: robot {row.name} created",
        )
        rows = await web.call(svc.robots, user, project)
        return web.render(
            ctx,
            "robots.html",
            project=project,
            robots=rows,
            created=(row, secret),
            actions=sorted(ROBOT_ACTIONS),
            when=when,
        )

    async def settings(self, web: Web, ctx: Context) -> Response:
        name = ctx.request.path_params["project"]
        user = _need_login(ctx)
        state = web.state
        values: dict[str, Any] = {
            "project": await web.call(state.manage.project, user, name),
            "quota": await web.call(state.manage.quota, user, name),
            "policy": await web.call(state.policies.policy, user, name),
            "allowlist": await web.call(state.policies.allowlist, user, name),
            "retention": await web.call(self.retention.policy, user, name),
            "runs": await web.call(self.retention.runs, user, name, 10),
        }
        is_admin = await web.call(state.authorizer.role, user, name) == "admin"
        hooks = (
            await web.call(state.webhooks.hooks_of, state.manage, user, name) if is_admin else None
        )
        return web.render(
            ctx,
            "settings.html",
            hooks=hooks,
            when=when,
            may_edit=is_admin,
            switches=POLICY_SWITCHES,
            severities=SEVERITIES,
            saved=bool(_param(ctx, "saved")),
            **values,
        )

    async def admin(self, web: Web, ctx: Context) -> Response:
        """The registry's own settings, read-only (system admins)."""
        user = _need_login(ctx)
        state = web.state
        users = await web.call(state.manage.users, user)  # Denied unless a system admin
        values: dict[str, Any] = {
            "users": users,
            "allowlist": await web.call(state.policies.allowlist, user, None),
            "schedules": await web.call(self.retention.store.schedules),
        }
        return web.render(ctx, "admin.html", when=when, **values)

    async def audit(self, web: Web, ctx: Context) -> Response:
        filters = {k: _param(ctx, k) or None for k in ("user", "repo", "action", "result")}
        rows = await web.call(
            lambda: web.state.manage.audit(_need_login(ctx), limit=_AUDIT_LIMIT, **filters)
        )
        return web.render(
            ctx, "audit.html", rows=rows, filters=filters, when=when, limit=_AUDIT_LIMIT
        )


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="/")
