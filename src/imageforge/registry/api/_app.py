"""The ASGI application: the routes of the Distribution Spec (``/v2/``), the token
endpoint (``/token``), the management API (``/api/v1/``) and the web UI (``/ui/``), and
the background work while it serves: the sweep of expired upload sessions, the
schedule, webhook deliveries, replication take-overs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from imageforge.registry.api._health import health_routes
from imageforge.registry.api._io import run
from imageforge.registry.api._manage import Manage, management_routes
from imageforge.registry.api._replication import replication_routes
from imageforge.registry.api._retention import retention_routes
from imageforge.registry.api._scans import scan_routes
from imageforge.registry.api._v2 import Distribution
from imageforge.registry.api._webhooks import webhook_routes
from imageforge.registry.replication import SCHEDULE_PREFIX, Replication
from imageforge.registry.retention import Retention, Scheduler
from imageforge.registry.service import RegistryState, sweep_interval
from imageforge.registry.ui import ui_app
from imageforge.registry.webhooks import Deliverer

__all__ = ["create_app"]

_LOG = logging.getLogger("imageforge.registry")


async def _sweep_uploads(state: RegistryState, scheduler: Scheduler) -> None:
    """Purge expired upload sessions now and every ``sweep_interval`` (one server at a
    time: the scheduler's ``upload-sweep`` lease)."""
    expiry = state.upload_expiry
    while True:
        try:
            purged = await run(scheduler.sweep_uploads, state.uploads)
        except Exception as exc:  # a background loop: log, never end the server
            _LOG.warning("purging expired uploads failed (next try later): %s", exc)
        else:
            if purged:
                _LOG.info("purged %d upload sessions older than %g s", len(purged), expiry)
        await anyio.sleep(sweep_interval(expiry))


async def _run_schedule(scheduler: Scheduler, every: float) -> None:
    """Flush pull times and run scheduled retention and gc, every ``every`` seconds."""
    try:
        while True:
            try:
                await run(scheduler.tick)
            except Exception as exc:  # a background loop: log, never end the server
                _LOG.warning("the schedule's tick failed (next try later): %s", exc)
            await anyio.sleep(every)
    finally:  # the pull times noted since the last tick
        with anyio.CancelScope(shield=True):
            await run(scheduler.flush)


async def _deliver_webhooks(deliverer: Deliverer, every: float) -> None:
    """Deliver due webhooks; look again every ``every`` seconds when none were due."""
    try:
        while True:
            try:
                made = await run(deliverer.step)
            except Exception as exc:  # a background loop: log, never end the server
                _LOG.warning("delivering webhooks failed (next try later): %s", exc)
                made = 0
            if not made:
                await anyio.sleep(every)
    finally:
        deliverer.close()


async def _recover_replication(replication: Replication) -> None:
    """Take over the replication runs of processes that died: on start, then every
    half lease (at least every 30 s)."""
    every = min(30.0, max(0.5, replication.lease_ttl / 2))
    while True:
        try:
            await run(replication.recover)
        except Exception as exc:  # a background loop: log, never end the server
            _LOG.warning("taking over replication runs failed (next try later): %s", exc)
        await anyio.sleep(every)


def create_app(state: RegistryState, schedule_every: float = 5.0) -> Starlette:
    """The ASGI application serving ``state``; its schedule (retention, gc, pull times)
    is looked at every ``schedule_every`` seconds."""
    v2 = Distribution(state)
    retention = Retention(
        state.meta,
        state.manage,
        state.gates,
        state.storage,
        events=state.events,
        pulls=state.pulls,
        upload_expiry=state.upload_expiry,
    )
    scheduler = Scheduler(retention)
    replication = state.replication or Replication(
        state.meta, state.manage, None, events=state.events
    )
    scheduler.handlers[SCHEDULE_PREFIX] = replication.scheduled

    def route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
        return Route(path, endpoint, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_sweep_uploads, state, scheduler)
            if state.scans is not None:
                tg.start_soon(state.scans.serve)
            tg.start_soon(_run_schedule, scheduler, schedule_every)
            tg.start_soon(_deliver_webhooks, Deliverer(state.webhooks), 0.5)
            tg.start_soon(_recover_replication, replication)
            yield
            tg.cancel_scope.cancel()

    app = Starlette(
        routes=[
            route("/v2/", v2.dispatch),
            route("/v2/{path:path}", v2.dispatch),
            Route("/token", v2.auth.token, methods=["GET"]),
            *health_routes(state),
            *management_routes(state),
            *scan_routes(state),
            *retention_routes(Manage(state), retention),
            *webhook_routes(Manage(state), state.webhooks),
            *replication_routes(Manage(state), replication),
            Mount("/ui", app=ui_app(state, retention)),
        ],
        lifespan=lifespan,
    )
    app.state.registry = state
    return app
