"""``/api/v1/projects/{project}/retention`` over HTTP: the project's retention policy
and its runs (dry or real), through the management API's parsing, authentication and
audit (``_manage``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.errors import InvalidArgument
from imageforge.registry.api._io import run
from imageforge.registry.api._manage import Manage
from imageforge.registry.retention import Retention

__all__ = ["retention_routes"]


def _run_id(request: Request) -> int:
    raw = request.path_params["run"]
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument(f"run id {raw!r} is not a number")
    return int(raw)


class _RetentionApi:
    def __init__(self, m: Manage, retention: Retention) -> None:
        self.m = m
        self.retention = retention

    async def policy(self, request: Request) -> Response:
        name = request.path_params["project"]
        if request.method == "GET":
            user = await self.m.authenticated(request, required=False)
            return JSONResponse(await run(self.retention.policy, user, name))
        user = await self.m.authenticated(request)
        await run(self.m.svc.require_project_admin, user, name)
        body = await self.m.json_body(request, "RetentionPolicy")
        doc = await run(self.retention.set_policy, user, name, body)
        request.state.audit = (name, f"set retention policy ({len(doc['rules'])} rules)")
        return JSONResponse(doc)

    async def runs(self, request: Request) -> Response:
        name = request.path_params["project"]
        if request.method == "GET":
            user = await self.m.authenticated(request, required=False)
            rows = await run(self.retention.runs, user, name, 50)
            return JSONResponse([r.to_json() for r in rows])
        user = await self.m.authenticated(request)
        await run(self.m.svc.require_project_admin, user, name)
        body = await self.m.json_body(request, "RetentionRun")
        dry = bool(body.get("dry_run", False))

        def go() -> JSONResponse:
            row = self.retention.run(user, name, dry_run=dry, host=request.url.netloc)
            return JSONResponse(row.to_json(), 201)

        return await run(go)

    async def one_run(self, request: Request) -> Response:
        name = request.path_params["project"]
        user = await self.m.authenticated(request, required=False)
        row = await run(self.retention.get_run, user, name, _run_id(request))
        return JSONResponse(row.to_json())


def retention_routes(m: Manage, retention: Retention) -> list[Route]:
    api = _RetentionApi(m, retention)
    base = "/api/v1/projects/{project}/retention"
    return [
        Route(base, m.wrap(api.policy), methods=["GET", "PUT"]),
        Route(f"{base}/runs", m.wrap(api.runs), methods=["GET", "POST"]),
        Route(f"{base}/runs/{{run}}", m.wrap(api.one_run), methods=["GET"]),
    ]
