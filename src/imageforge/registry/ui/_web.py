"""The UI's HTTP plumbing: the headers every answer carries (a strict CSP, no framing,
no sniffing, no referrer), templates rendered with autoescaping, the session loaded and
stored for each request, forms read with a size limit and refused without their CSRF
token, and errors shown as a page with the status their kind maps to."""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imageforge.errors import ErrorKind, ImageforgeError
from imageforge.registry.service import RegistryState
from imageforge.registry.ui._session import Session, Sessions

__all__ = ["HEADERS", "MAX_FORM", "Context", "Handler", "SecurityHeaders", "Web"]

MAX_FORM = 64 << 10  # bytes of a form's body
HEADERS = {
    # No inline script or style anywhere, so nothing injected into a page can run.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
        " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}
_STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.DENIED: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.UNAVAILABLE: 503,
}


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` to every response of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Context:
    """One request as a handler sees it: who asks, their session, the form sent."""

    request: Request
    session: Session
    form: dict[str, str]
    is_admin: bool = False  # a system admin (the header links to the admin pages)

    @property
    def user(self) -> str | None:
        return self.session.user

    def field(self, name: str) -> str:
        return self.form.get(name, "").strip()


Handler = Callable[["Web", Context], Awaitable[Response]]


class Web:
    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.sessions = Sessions(state.tokens, state.meta)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("imageforge.registry.ui", "templates"),
            autoescape=True,  # every value is HTML-escaped unless a template says otherwise
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A synchronous service call in a worker thread."""
        return await to_thread.run_sync(functools.partial(fn, *args))

    def render(self, ctx: Context, template: str, status: int = 200, **values: Any) -> Response:
        user = ctx.user
        body = self.env.get_template(template).render(
            user=user,
            csrf=ctx.session.csrf,
            is_admin=ctx.is_admin,
            **values,
        )
        response = HTMLResponse(body, status_code=status)
        if ctx.session.fresh:
            self.sessions.store(ctx.request, response, ctx.session)
        return response

    def redirect(self, ctx: Context, url: str, session: Session | None = None) -> Response:
        response = RedirectResponse(url, status_code=303)
        session = session or ctx.session
        if session.fresh:
            self.sessions.store(ctx.request, response, session)
        return response

    def error(self, ctx: Context, exc: ImageforgeError) -> Response:
        status = _STATUS.get(exc.kind, 400)
        if status == 401 or (status == 403 and ctx.user is None):
            return self.redirect(ctx, "/ui/login")
        return self.render(ctx, "error.html", status, message=exc.message, hint=exc.hint or "")

    async def _form(self, request: Request) -> dict[str, str] | None:
        """The urlencoded form; None if it is larger than :data:`MAX_FORM`."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_FORM:
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return None
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return dict(pairs)

    def route(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint running ``handler`` with its context; a POST must carry the
        session's CSRF token (403 otherwise, nothing done)."""

        async def endpoint(request: Request) -> Response:
            session = await self.call(self.sessions.load, request)
            is_admin = await self.call(self.state.authorizer.is_system_admin, session.user)
            ctx = Context(request, session, {}, is_admin)
            if request.method == "POST":
                form = await self._form(request)
                if form is None:
                    return self.render(
                        ctx,
                        "error.html",
                        413,
                        message="the form is too large",
                        hint=f"at most {MAX_FORM} bytes",
                    )
                if not session.csrf_ok(form.get("csrf")):
                    return self.render(
                        ctx,
                        "error.html",
                        403,
                        message="refused: the form's CSRF token is missing or does not match"
                        " your session",
                        hint="reload the page and submit the form again",
                    )
                ctx.form = form
            try:
                return await handler(self, ctx)
            except ImageforgeError as exc:
                return self.error(ctx, exc)

        return endpoint
