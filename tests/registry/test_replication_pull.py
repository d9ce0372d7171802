"""Replication rules with direction ``pull``: another registry's images fetched into
this one. distribution 2.8 as the source of a served imageforge registry: the tags the
rule selects arrive with identical digests (skopeo inspect both), a signature that
verifies against the copy, a tag gone at the source is deleted here, and a killed run's
next run fetches nothing again that arrived (distribution's own request log). A hostile
source (a manifest under another digest, a redirect to another host, a blob that is not
its digest) is refused and nothing is stored."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, media
from imageforge.pipeline import RegistryReplicator
from imageforge.registry import RegistryConfig, RegistryState, open_registry
from imageforge.registry.service import OPERATOR
from tests.conftest import imageforge_cmd, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, _free_port, make_server, skopeo
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution, ok
from tests.sign.conftest import PASSWORD, KeyPair, write_pair
from tests.sign.conftest import two_images as two_images

NO_TLS = "--tls-verify=false"
_DIST_CREDS = f"{DIST_USER}:{DIST_PASSWORD}"


# --- a hostile source, in this process


def _doc(config: bytes) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": {
                "mediaType": media.OCI_CONFIG,
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()


_CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
_GOOD = _doc(_CONFIG)
_GOOD_DIGEST = "sha256:" + hashlib.sha256(_GOOD).hexdigest()
_FORGED = "sha256:" + "0" * 64
_OTHER = _doc(b'{"os":"linux"}')  # a config the source answers other bytes for


def _hostile(elsewhere: str) -> Starlette:
    """A source without a catalog: ``evil/fine`` is a good image; ``evil/mismatch``
    names a digest its manifest does not have; ``evil/redirect`` sends the manifest's
    GET to ``elsewhere`` (another host); ``evil/badblob``'s config is other bytes."""

    async def tags(request: Request) -> Response:
        return JSONResponse({"name": request.path_params["name"], "tags": ["1"]})

    async def manifest(request: Request) -> Response:
        name = request.path_params["name"]
        body = _OTHER if name == "evil/badblob" else _GOOD
        named = _FORGED if name == "evil/mismatch" else "sha256:" + hashlib.sha256(body).hexdigest()
        headers = {"Content-Type": media.OCI_MANIFEST, "Docker-Content-Digest": named}
        if request.method == "HEAD":
            return Response(b"", headers={**headers, "Content-Length": str(len(body))})
        if name == "evil/redirect":
            return RedirectResponse(f"{elsewhere}/manifest", 307)
        return Response(body, headers=headers)

    async def blob(request: Request) -> Response:
        return Response(b"{ }" if request.path_params["name"] == "evil/badblob" else _CONFIG)

    async def ping(request: Request) -> Response:
        return Response(b"{}")

    return Starlette(
        routes=[
            Route("/v2/", ping),
            Route("/v2/{name:path}/tags/list", tags),
            Route("/v2/{name:path}/manifests/{ref}", manifest, methods=["GET", "HEAD"]),
            Route("/v2/{name:path}/blobs/{ref}", blob),
        ]
    )


def _elsewhere(seen: list[str]) -> Starlette:
    async def anything(request: Request) -> Response:
        seen.append(f"{request.method} {request.url.path}")
        return Response(_GOOD)

    return Starlette(routes=[Route("/{what}", anything, methods=["GET", "HEAD"])])


@contextlib.contextmanager
def _uvicorn(app: Starlette) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RegistryState]:
    """A registry opened in this process with the pipeline's replicator."""
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    state = open_registry(RegistryConfig(tmp_path / "data"), replicator=RegistryReplicator)
    assert state.replication is not None
    state.replication.attempts = 1  # a refusal is not retried here
    try:
        yield state
    finally:
        assert state.replication.replicator is not None
        state.replication.replicator.close()  # type: ignore[attr-defined]
        state.meta.close()


def test_a_hostile_source_is_refused_and_nothing_is_stored(here: RegistryState) -> None:
    assert here.replication is not None
    r = here.replication
    seen: list[str] = []
    with _uvicorn(_elsewhere(seen)) as elsewhere, _uvicorn(_hostile(elsewhere)) as hostile:
        endpoint = {"url": hostile}
        # no catalog there: only repositories named literally can be pulled
        r.add(OPERATOR, {"name": "globs", "direction": "pull", "endpoint": endpoint,
                         "repositories": ["evil/*"]})  # fmt: skip
        with pytest.raises(InvalidArgument, match="lists no repositories"):
            r.run(OPERATOR, "globs")
        repos = ["evil/fine", "evil/mismatch", "evil/redirect", "evil/badblob"]
        r.add(OPERATOR, {"name": "hostile", "direction": "pull", "endpoint": endpoint,
                         "repositories": repos, "destination_namespace": "library"})  # fmt: skip
        run = r.run(OPERATOR, "hostile")
    errors = {i.repository: i.error for i in run.items}
    assert run.status == "failed" and [i.status for i in run.items].count("done") == 1, errors
    assert f"has digest {_GOOD_DIGEST}; refused, nothing was stored" in errors["evil/mismatch"]
    assert "another host; refused before following it" in errors["evil/redirect"]
    assert "blob content has digest" in errors["evil/badblob"]
    assert "refused, nothing was stored" in errors["evil/badblob"]
    assert seen == []  # the redirect was not followed
    # the good one arrived, by its digest; nothing of the others is here
    assert here.meta.resolve_tag("library/fine", "1") == Digest(_GOOD_DIGEST)
    for name in ("mismatch", "redirect", "badblob"):
        assert not here.meta.repo_exists(f"library/{name}")
    bad = Digest("sha256:" + hashlib.sha256(b"{ }").hexdigest())
    assert not here.storage.exists(bad)
