"""Health endpoints for load balancers and orchestrators (Kubernetes probes, HAProxy's
``option httpchk``): no authentication, no body worth parsing.

- ``GET /healthz``: liveness, the process answers requests (its event loop is not stuck).
- ``GET /readyz``: readiness, the metadata database answers a query and the blob storage
  answers a lookup (S3 credentials and bucket included); 503 with the reason otherwise, so
  a replica that lost its database or storage is taken out of the rotation, not killed."""

from __future__ import annotations

import hashlib
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.oci import Digest
from imageforge.registry.api._io import run
from imageforge.registry.service import RegistryState
from imageforge.registry.storage import S3BlobStorage

__all__ = ["health_routes"]

_LOG = logging.getLogger("imageforge.registry")
# Looked up, never stored: the answer (present or not) does not matter, only that the
# storage gives one.
_PROBE = Digest("sha256:" + hashlib.sha256(b"").hexdigest())


def health_routes(state: RegistryState) -> list[Route]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        checks = {"metadata": lambda: state.meta.query("SELECT 1"), "storage": _storage}
        for name, check in checks.items():
            try:
                await run(check)
            except Exception as exc:  # any failure: not ready, with the reason
                _LOG.warning("readiness: the %s check failed: %s", name, exc)
                return JSONResponse(
                    {"status": "unavailable", "check": name, "error": str(exc)},
                    status_code=503,
                )
        return JSONResponse({"status": "ok"})

    def _storage() -> None:
        if isinstance(state.storage, S3BlobStorage):
            state.storage.check()  # the bucket and the credentials (a HEAD cannot tell)
        else:
            state.storage.exists(_PROBE)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
    ]
