"""The ``/api/v1/`` routes of scans and pull policies: a project's policy and CVE
allowlist, the registry's allowlist, and a manifest's scan (read it, or start one), at
Harbor's paths. Authentication, body checks and auditing are the management API's
(:class:`~imageforge.registry.api._manage._Manage`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.registry.api._io import run
from imageforge.registry.api._manage import _Handler, _Manage
from imageforge.registry.service import RegistryState, parse_digest

__all__ = ["scan_routes"]


class _Scans:
    def __init__(self, state: RegistryState) -> None:
        self.manage = _Manage(state)
        self.svc = state.policies

    async def policy(self, request: Request) -> Response:
        project = request.path_params["project"]
        if request.method == "GET":
            user = await self.manage._user(request, required=False)
            return JSONResponse(await run(self.svc.policy, user, project))
        user = await self.manage._user(request)
        await run(self.svc.manage.require_project_admin, user, project)
        body = await self.manage._body(request, "SetPolicy")
        doc = await run(self.svc.set_policy, user, project, body)
        request.state.audit = (project, f"set policy {_settings(body)}")
        return JSONResponse(doc)

    async def allowlist(self, request: Request) -> Response:
        project: str | None = request.path_params.get("project")
        if request.method == "GET":
            user = await self.manage._user(request, required=False)
            return JSONResponse(await run(self.svc.allowlist, user, project))
        user = await self.manage._user(request)
        if project is None:
            await run(self.svc.manage.require_admin, user)
        else:
            await run(self.svc.manage.require_project_admin, user, project)
        body = await self.manage._body(request, "SetAllowlist")
        items = [(i["cve"], i.get("expires_at")) for i in body["items"]]
        doc = await run(self.svc.set_allowlist, user, project, items)
        cves = ", ".join(i[0] for i in items) or "nothing"
        request.state.audit = (project or "", f"set allowlist {cves}"[:500])
        return JSONResponse(doc)

    async def scan(self, request: Request) -> Response:
        p = request.path_params
        repo = f"{p['project']}/{p['repository']}"
        digest = parse_digest(p["digest"])
        if request.method == "GET":
            user = await self.manage._user(request, required=False)
            return JSONResponse(await run(self.svc.result, user, repo, digest))
        user = await self.manage._user(request)
        doc = await run(self.svc.start, user, repo, digest)
        request.state.audit = (p["project"], f"start scan of {repo}@{digest}")
        return JSONResponse(doc, 202)


def _settings(body: dict[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(body.items())) or "(unchanged)"


def scan_routes(state: RegistryState) -> list[Route]:
    """The routes of scans, policies and allowlists."""
    s = _Scans(state)
    table: list[tuple[str, _Handler, list[str]]] = [
        ("/api/v1/projects/{project}/policy", s.policy, ["GET", "PUT"]),
        ("/api/v1/projects/{project}/allowlist", s.allowlist, ["GET", "PUT"]),
        ("/api/v1/allowlist", s.allowlist, ["GET", "PUT"]),
        (
            "/api/v1/projects/{project}/repositories/{repository:path}/artifacts/{digest}/scan",
            s.scan,
            ["GET", "POST"],
        ),
    ]
    return [Route(path, s.manage.wrap(fn), methods=methods) for path, fn, methods in table]
