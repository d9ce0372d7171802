"""``/api/v1/replication`` over HTTP: the replication rules and their runs (system
admins), through the management API's parsing, authentication and audit (``_manage``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.errors import InvalidArgument
from imageforge.registry.api._io import run
from imageforge.registry.api._manage import Manage
from imageforge.registry.replication import Replication

__all__ = ["replication_routes"]


def _number(request: Request, key: str, default: int, limit: int) -> int:
    raw = request.path_params.get(key) or request.query_params.get(key) or str(default)
    if not raw.isdigit() or len(raw) > 18 or not 0 < int(raw) <= limit:
        raise InvalidArgument(f"{key} {raw!r} is not a number from 1 to {limit}")
    return int(raw)


class _ReplicationApi:
    def __init__(self, m: Manage, replication: Replication) -> None:
        self.m = m
        self.r = replication

    async def endpoints(self, request: Request) -> Response:
        user = await self.m.authenticated(request)
        if request.method == "GET":
            rows = await run(self.r.endpoints, user)
            return JSONResponse([e.to_json() for e in rows])
        await run(self.m.svc.require_admin, user)
        body = await self.m.json_body(request, "NewReplicationEndpoint")
        name, replace = body.pop("name"), bool(body.pop("replace", False))
        endpoint = await run(self.r.add_endpoint, user, name, body, replace)
        request.state.audit = ("", f"add replication endpoint {name} -> {endpoint.url}"[:500])
        return JSONResponse(endpoint.to_json(), 201)

    async def endpoint(self, request: Request) -> Response:
        name = request.path_params["endpoint"]
        user = await self.m.authenticated(request)
        if request.method == "GET":
            return JSONResponse((await run(self.r.endpoint, user, name)).to_json())
        await run(self.r.delete_endpoint, user, name)
        request.state.audit = ("", f"delete replication endpoint {name}")
        return Response(status_code=204)

    async def rules(self, request: Request) -> Response:
        user = await self.m.authenticated(request)
        if request.method == "GET":
            rows = await run(self.r.rules, user)
            return JSONResponse([r.to_json() for r in rows])
        await run(self.m.svc.require_admin, user)  # who may, before what the body says
        body = await self.m.json_body(request, "NewReplicationRule")
        rule = await run(self.r.add, user, body)
        request.state.audit = ("", f"add replication rule {rule.summary}"[:500])
        return JSONResponse(rule.to_json(), 201)

    async def rule(self, request: Request) -> Response:
        name = request.path_params["rule"]
        user = await self.m.authenticated(request)
        if request.method == "GET":
            return JSONResponse((await run(self.r.rule, user, name)).to_json())
        await run(self.r.delete, user, name)
        request.state.audit = ("", f"delete replication rule {name}")
        return Response(status_code=204)

    async def runs(self, request: Request) -> Response:
        name = request.path_params["rule"]
        user = await self.m.authenticated(request)
        if request.method == "GET":
            limit = _number(request, "limit", 50, 1000)
            rows = await run(self.r.history, user, name, limit)
            return JSONResponse([r.to_json() for r in rows])
        await run(self.m.svc.require_admin, user)
        body = await self.m.json_body(request, "ReplicationRun")
        started = await run(self.r.start, user, name, "manual")
        request.state.audit = ("", f"run replication rule {name}: run {started.id}")
        if body.get("wait"):
            return JSONResponse((await run(self.r.execute, user, started)).to_json(), 201)
        self.r.execute_later(user, started)
        return JSONResponse(started.to_json(), 202)

    async def one_run(self, request: Request) -> Response:
        user = await self.m.authenticated(request)
        row = await run(self.r.get_run, user, _number(request, "run", 0, 10**18))
        return JSONResponse(row.to_json())


def replication_routes(m: Manage, replication: Replication) -> list[Route]:
    api = _ReplicationApi(m, replication)
    base = "/api/v1/replication"
    return [
        Route(f"{base}/endpoints", m.wrap(api.endpoints), methods=["GET", "POST"]),
        Route(f"{base}/endpoints/{{endpoint}}", m.wrap(api.endpoint), methods=["GET", "DELETE"]),
        Route(f"{base}/rules", m.wrap(api.rules), methods=["GET", "POST"]),
        Route(f"{base}/rules/{{rule}}", m.wrap(api.rule), methods=["GET", "DELETE"]),
        Route(f"{base}/rules/{{rule}}/runs", m.wrap(api.runs), methods=["GET", "POST"]),
        Route(f"{base}/runs/{{run}}", m.wrap(api.one_run), methods=["GET"]),
    ]
