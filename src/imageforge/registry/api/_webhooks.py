"""``/api/v1/projects/{project}/webhooks`` over HTTP: a project's webhooks and their
delivery logs (project admins), through the management API's parsing, authentication
and audit (``_manage``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.registry.api._io import run
from imageforge.registry.api._manage import Manage
from imageforge.registry.webhooks import Webhooks

__all__ = ["webhook_routes"]


class _WebhookApi:
    def __init__(self, m: Manage, webhooks: Webhooks) -> None:
        self.m = m
        self.hooks = webhooks

    async def collection(self, request: Request) -> Response:
        name = request.path_params["project"]
        user = await self.m.authenticated(request)
        if request.method == "GET":
            rows = await run(self.hooks.hooks_of, self.m.svc, user, name)
            return JSONResponse([r.to_json() for r in rows])
        await run(self.m.svc.require_project_admin, user, name)
        body = await self.m.json_body(request, "NewWebhook")

        def add() -> JSONResponse:
            row, secret = self.hooks.add(
                self.m.svc, user, name, body["name"], body["url"], body["events"],
                body.get("secret"),
            )  # fmt: skip
            return JSONResponse({**row.to_json(), "secret": secret}, 201)

        resp = await run(add)
        request.state.audit = (name, f"add webhook {body['name']} -> {body['url']}"[:500])
        return resp

    async def one(self, request: Request) -> Response:
        name, ref = request.path_params["project"], request.path_params["webhook"]
        user = await self.m.authenticated(request)
        if request.method == "GET":
            return JSONResponse((await run(self.hooks.get, self.m.svc, user, name, ref)).to_json())
        row = await run(self.hooks.delete, self.m.svc, user, name, ref)
        request.state.audit = (name, f"delete webhook {row.name}")
        return Response(status_code=204)

    async def deliveries(self, request: Request) -> Response:
        name, ref = request.path_params["project"], request.path_params["webhook"]
        user = await self.m.authenticated(request)
        rows = await run(self.hooks.deliveries, self.m.svc, user, name, ref, 100)
        return JSONResponse([r.to_json() for r in rows])


def webhook_routes(m: Manage, webhooks: Webhooks) -> list[Route]:
    api = _WebhookApi(m, webhooks)
    base = "/api/v1/projects/{project}/webhooks"
    return [
        Route(base, m.wrap(api.collection), methods=["GET", "POST"]),
        Route(f"{base}/{{webhook}}", m.wrap(api.one), methods=["GET", "DELETE"]),
        Route(f"{base}/{{webhook}}/deliveries", m.wrap(api.deliveries), methods=["GET"]),
    ]
