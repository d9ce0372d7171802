"""The ASGI application: the routes of the Distribution Spec (``/v2/``), the token
endpoint (``/token``) and the management API (``/api/v1/``), and the sweep of expired
upload sessions while it serves."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imageforge.registry.api._io import run
from imageforge.registry.api._manage import management_routes
from imageforge.registry.api._scans import scan_routes
from imageforge.registry.api._v2 import Distribution
from imageforge.registry.service import RegistryState, sweep_interval

__all__ = ["create_app"]

_LOG = logging.getLogger("imageforge.registry")


async def _sweep_uploads(state: RegistryState) -> None:
    """Purge expired upload sessions now and every ``sweep_interval``."""
    expiry = state.upload_expiry
    while True:
        try:
            purged = await run(state.uploads.purge_expired)
        except Exception as exc:  # a background loop: log, never end the server
            _LOG.warning("purging expired uploads failed (next try later): %s", exc)
        else:
            if purged:
                _LOG.info("purged %d upload sessions older than %g s", len(purged), expiry)
        await anyio.sleep(sweep_interval(expiry))


def create_app(state: RegistryState) -> Starlette:
    """The ASGI application serving ``state``."""
    v2 = Distribution(state)

    def route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
        return Route(path, endpoint, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_sweep_uploads, state)
            if state.scans is not None:
                tg.start_soon(state.scans.serve)
            yield
            tg.cancel_scope.cancel()

    app = Starlette(
        routes=[
            route("/v2/", v2.dispatch),
            route("/v2/{path:path}", v2.dispatch),
            Route("/token", v2.auth.token, methods=["GET"]),
            *management_routes(state),
            *scan_routes(state),
        ],
        lifespan=lifespan,
    )
    app.state.registry = state
    return app
