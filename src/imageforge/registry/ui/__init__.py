"""The registry's web UI under ``/ui/``: server-rendered pages (Jinja2, autoescaped) over
the same services, users and ``Authorizer`` as the API, with a signed session cookie
after login, a CSRF token on every form and a strict Content-Security-Policy (one CSS
and one JS file, both served from here; no inline script or style, no CDN).

It reads what the registry stores (manifests, configs, scan results, attached objects)
and never imports ``analyze``, ``sbom``, ``vuln`` or ``sign``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from imageforge.registry.retention import Retention
from imageforge.registry.service import RegistryState
from imageforge.registry.ui._edits import Edits
from imageforge.registry.ui._pages import Pages
from imageforge.registry.ui._web import HEADERS, Handler, SecurityHeaders, Web

__all__ = ["HEADERS", "ui_app"]


async def _home(_request: Request) -> Response:
    return RedirectResponse("/ui/projects", status_code=303)


def ui_app(state: RegistryState, retention: Retention) -> Starlette:
    """The UI as an app to mount at ``/ui``."""
    web = Web(state)
    pages = Pages(retention)
    edits = Edits()

    def get(path: str, handler: Handler, post: Handler | None = None) -> Route:
        endpoint = web.route(handler)
        if post is None:
            return Route(path, endpoint, methods=["GET", "HEAD"])
        posted = web.route(post)

        async def either(request: Request) -> Response:
            return await (posted if request.method == "POST" else endpoint)(request)

        return Route(path, either, methods=["GET", "HEAD", "POST"])

    def post(path: str, handler: Handler) -> Route:
        return Route(path, web.route(handler), methods=["POST"])

    routes = [
        Route("/", _home, methods=["GET", "HEAD"]),
        get("/login", pages.login_form, pages.login),
        post("/logout", pages.logout),
        get("/projects", pages.projects),
        get("/search", pages.search),
        get("/projects/{project}", pages.project),
        get("/projects/{project}/members", pages.members, edits.set_member),
        post("/projects/{project}/members/remove", edits.remove_member),
        get("/projects/{project}/robots", pages.robots, pages.add_robot),
        get("/projects/{project}/settings", pages.settings),
        post("/projects/{project}/settings/policy", edits.set_policy),
        post("/projects/{project}/settings/quota", edits.set_quota),
        post("/projects/{project}/settings/immutable", edits.set_immutable),
        get("/repository", pages.repository),
        get("/artifact", pages.artifact),
        get("/provenance", pages.provenance),
        post("/artifact/delete-tag", edits.delete_tag),
        get("/artifact/delete", edits.confirm_delete, edits.delete_artifact),
        post("/artifact/scan", pages.scan),
        get("/audit", pages.audit),
        get("/admin", pages.admin),
        Mount("/static", StaticFiles(packages=[("imageforge.registry.ui", "static")])),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
