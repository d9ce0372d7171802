"""The OCI Distribution Spec v1.1 endpoints under ``/v2/``: each handler authorizes,
parses the request, calls one service and builds the response.

Repository names contain slashes, so one route takes ``/v2/...`` and :func:`route`
splits it by the spec's patterns. Request and response bodies are streamed in chunks,
never held whole (manifests excepted: they are small and size-limited).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from imageforge.errors import ImageforgeError
from imageforge.oci import Digest, media
from imageforge.registry.api._audit import record_response
from imageforge.registry.api._auth import HttpAuth
from imageforge.registry.api._errors import ApiError, error_response
from imageforge.registry.api._events import notify
from imageforge.registry.api._io import FileSliceResponse, read_body, receive, run
from imageforge.registry.auth import Access
from imageforge.registry.policy import BYPASS_HEADER
from imageforge.registry.service import (
    RegistryState,
    UploadSession,
    parse_digest,
    valid_repository,
)

__all__ = ["Distribution", "Target", "route"]

_PATTERNS = [
    ("tags", re.compile(r"(?P<name>.+)/tags/list")),
    ("manifest", re.compile(r"(?P<name>.+)/manifests/(?P<ref>[^/]+)")),
    ("uploads", re.compile(r"(?P<name>.+)/blobs/uploads/?")),
    ("upload", re.compile(r"(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)")),
    ("blob", re.compile(r"(?P<name>.+)/blobs/(?P<ref>[^/]+)")),
    ("referrers", re.compile(r"(?P<name>.+)/referrers/(?P<ref>[^/]+)")),
]
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CONTENT_RANGE = re.compile(r"(?:bytes )?(\d+)-(\d+)(?:/\d+|/\*)?")


@dataclass(frozen=True)
class Target:
    kind: str  # base, catalog, tags, manifest, blob, uploads, upload, referrers
    name: str = ""
    ref: str = ""


def route(path: str) -> Target:
    """What ``/v2/<path>`` names."""
    if path in ("", "/"):
        return Target("base")
    if path == "_catalog":
        return Target("catalog")
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(path)
        if m:
            name = valid_repository(m.group("name"))
            return Target(kind, name, m.groupdict().get("ref") or "")
    raise ApiError(404, "NOT_FOUND", f"no such endpoint /v2/{path}")


def _repo(name: str, *actions: str) -> Access:
    return Access("repository", name, frozenset(actions))


def _page(request: Request) -> tuple[str | None, int | None]:
    """The ``last`` and ``n`` of a paginated listing."""
    raw = request.query_params.get("n")
    n = None
    if raw is not None:
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if n < 0:
            raise ApiError(400, "PAGINATION_NUMBER_INVALID", f"invalid n={raw!r}")
    return request.query_params.get("last"), n


def _paged(items: list[str], n: int | None, link: str) -> tuple[list[str], dict[str, str]]:
    """At most ``n`` of ``items`` (one more was asked for, to know whether there are
    more) and the Link header to the next page."""
    if n == 0:
        return [], {}
    if n and len(items) > n:
        items = items[:n]
        return items, {"Link": f'<{link}?n={n}&last={quote(items[-1])}>; rel="next"'}
    return items, {}


def _accepted(request: Request) -> set[str]:
    return {
        a.split(";")[0].strip() for a in request.headers.getlist("accept") for a in a.split(",")
    }


class Distribution:
    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.auth = HttpAuth(state)

    async def dispatch(self, request: Request) -> Response:
        head = request.method == "HEAD"
        error: Exception | None = None
        try:
            resp = await self._dispatch(request)
        except (ApiError, ImageforgeError) as err:
            resp = error_response(err, head=head)
            error = err
        resp.headers["Docker-Distribution-API-Version"] = "registry/2.0"
        target: Target | None = getattr(request.state, "target", None)
        if target is not None:
            await record_response(
                self.state.meta, request, target.kind, target.name, target.ref, resp
            )
            await notify(self.state, request, target.kind, target.name, target.ref, resp, error)
        return resp

    async def _dispatch(self, request: Request) -> Response:
        target = route(request.path_params.get("path", ""))
        method = request.method
        proxy = self.state.proxy
        if proxy is not None and proxy.mirror and method in ("GET", "HEAD") and target.name:
            mirrored = await run(proxy.mirrored, target.name)
            target = Target(target.kind, mirrored, target.ref)
        request.state.target = target
        name = target.name
        require = self.auth.require
        if target.kind == "base":
            await require(request, [])
            if request.headers.get("authorization") is None:
                # Tell clients up front how to authenticate (Docker's /v2/ ping).
                raise self.auth.challenge(request, [])
            return JSONResponse({})
        if target.kind == "catalog":
            await require(request, [Access("registry", "catalog", frozenset({"*"}))])
            return await self.catalog(request)
        if target.kind == "tags" and method == "GET":
            await require(request, [_repo(name, "pull")])
            return await self.tags(request, name)
        if target.kind == "manifest":
            action = {"GET": "pull", "HEAD": "pull", "PUT": "push", "DELETE": "delete"}.get(method)
            if action:
                user = await require(request, [_repo(name, action)])
                if method in ("GET", "HEAD"):
                    return await self.get_manifest(request, name, target.ref, user)
                if method == "PUT":
                    await self._refuse_proxy_push(name)
                    return await self.put_manifest(request, name, target.ref, user)
                await run(self.state.manifests.delete, name, target.ref, user)
                return Response(b"", status_code=202)
        if target.kind == "blob":
            action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(method)
            if action:
                user = await require(request, [_repo(name, action)])
                if method == "DELETE":
                    await run(self.state.blobs.delete, name, parse_digest(target.ref), user)
                    return Response(b"", status_code=202)
                return await self.get_blob(request, name, target.ref)
        if target.kind == "uploads" and method == "POST":
            return await self.start_upload(request, name)
        if target.kind == "upload" and method in ("GET", "PATCH", "PUT", "DELETE"):
            await require(request, [_repo(name, "push")])
            await self._refuse_proxy_push(name)
            return await self.upload(request, name, target.ref)
        if target.kind == "referrers" and method == "GET":
            await require(request, [_repo(name, "pull")])
            return await self.referrers(request, name, target.ref)
        raise ApiError(405, "UNSUPPORTED", f"{method} is not supported on this endpoint")

    # --- listings
    async def catalog(self, request: Request) -> Response:
        last, n = _page(request)
        repos = await run(self.state.manifests.catalog, last, None if n is None else n + 1)
        repos, headers = _paged(repos, n, "/v2/_catalog")
        return JSONResponse({"repositories": repos}, headers=headers)

    async def tags(self, request: Request, name: str) -> Response:
        last, n = _page(request)
        tags = await run(self.state.manifests.tags, name, last, None if n is None else n + 1)
        tags, headers = _paged(tags, n, f"/v2/{name}/tags/list")
        return JSONResponse({"name": name, "tags": tags}, headers=headers)

    async def referrers(self, request: Request, name: str, ref: str) -> Response:
        wanted = request.query_params.get("artifactType")
        found = await run(self.state.manifests.referrers, name, parse_digest(ref), wanted)
        headers = {"Content-Type": media.OCI_INDEX}
        if wanted:
            headers["OCI-Filters-Applied"] = "artifactType"
        body = {
            "schemaVersion": 2,
            "mediaType": media.OCI_INDEX,
            "manifests": [d.to_json() for d in found],
        }
        return JSONResponse(body, headers=headers, media_type=media.OCI_INDEX)

    # --- manifests
    async def get_manifest(
        self, request: Request, name: str, ref: str, user: str | None
    ) -> Response:
        head = request.method == "HEAD"
        proxy = self.state.proxy
        if proxy is not None and proxy.proxied_now(name) is not False:
            await run(proxy.ensure_manifest, name, ref)
        pulled = await run(
            self.state.manifests.pull,
            name,
            ref,
            user,
            _accepted(request),
            not head,
            request.headers.get("user-agent", ""),
            request.headers.get(BYPASS_HEADER),
        )
        row = pulled.row
        headers = {
            "Docker-Content-Digest": str(row.digest),
            "Content-Type": row.media_type,
            "Content-Length": str(row.size),
        }
        if head:
            return Response(b"", headers=headers)
        return Response(pulled.body, headers=headers, media_type=row.media_type)

    async def put_manifest(
        self, request: Request, name: str, ref: str, user: str | None
    ) -> Response:
        limit = self.state.max_manifest_bytes

        def too_large() -> ApiError:
            return ApiError(413, "SIZE_INVALID", f"manifest is larger than {limit} bytes")

        body = await read_body(request, limit, too_large)
        content_type = request.headers.get("content-type", "")
        row = await run(self.state.manifests.push, name, ref, body, content_type, user)
        headers = {
            "Location": f"/v2/{name}/manifests/{row.digest}",
            "Docker-Content-Digest": str(row.digest),
        }
        if row.subject:
            headers["OCI-Subject"] = str(row.subject)
        return Response(b"", status_code=201, headers=headers)

    # --- blobs
    async def get_blob(self, request: Request, name: str, ref: str) -> Response:
        digest = parse_digest(ref)
        proxy = self.state.proxy
        if proxy is not None and proxy.proxied_now(name) is not False:
            fetched = await run(proxy.blob, name, digest)
            if fetched is not None:
                return self._fetched_blob(request, digest, *fetched)
        info = await run(self.state.blobs.info, name, digest)
        start, end, status = 0, info.size - 1, 200
        rng = request.headers.get("range")
        if rng:
            m = _RANGE.fullmatch(rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                raise ApiError(416, "BLOB_UNKNOWN", f"unsupported range {rng!r}")
            if m.group(1):
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), info.size - 1)
            else:
                start = max(0, info.size - int(m.group(2)))
            if start >= info.size or start > end:
                raise ApiError(
                    416,
                    "BLOB_UNKNOWN",
                    f"range {rng} is outside the blob",
                    headers={"Content-Range": f"bytes */{info.size}"},
                )
            status = 206
        headers = {
            "Docker-Content-Digest": str(digest),
            "Content-Length": str(end - start + 1),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        if request.method == "HEAD":
            return Response(b"", status_code=status, headers=headers)
        url = await run(self.state.blobs.url, digest)
        if url is not None:  # the storage serves it (a presigned URL, ranges and all)
            return Response(
                b"", 307, headers={"Location": url, "Docker-Content-Digest": str(digest)}
            )
        f = await run(self.state.blobs.open, digest, start)
        return FileSliceResponse(f, start, end - start + 1, status, headers)

    def _fetched_blob(
        self, request: Request, digest: Digest, size: int | None, chunks: Iterator[bytes]
    ) -> Response:
        """A blob of a proxy project as it arrives from the upstream (whole: a range
        is answered with all of it, as HTTP allows)."""
        headers = {"Docker-Content-Digest": str(digest), "Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        if request.method == "HEAD":
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            return Response(b"", headers=headers)
        return StreamingResponse(chunks, headers=headers)

    # --- uploads
    def _upload_headers(self, session: UploadSession) -> dict[str, str]:
        return {
            "Location": f"/v2/{session.repo}/blobs/uploads/{session.id}",
            "Docker-Upload-UUID": session.id,
            "Range": f"0-{max(session.offset - 1, 0)}",
        }

    def _created(self, name: str, digest: str) -> Response:
        headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
        return Response(b"", status_code=201, headers=headers)

    async def _refuse_proxy_push(self, name: str) -> None:
        proxy = self.state.proxy
        if proxy is not None:  # a proxy project's content is its upstream's
            proxied = proxy.proxied_now(name)  # known without a query, mostly
            if proxied is None:
                await run(proxy.refuse_push, name)
            elif proxied:
                proxy.refuse_push(name)

    async def start_upload(self, request: Request, name: str) -> Response:
        uploads = self.state.uploads
        q = request.query_params
        mount, source = q.get("mount"), q.get("from")
        if mount and source:
            digest = parse_digest(mount)
            valid_repository(source)
            await self.auth.require(request, [_repo(name, "pull", "push"), _repo(source, "pull")])
            await self._refuse_proxy_push(name)
            if await run(uploads.mount, name, source, digest):
                return self._created(name, str(digest))
        else:
            await self.auth.require(request, [_repo(name, "pull", "push")])
            await self._refuse_proxy_push(name)
        session = await run(uploads.begin, name)
        try:
            if q.get("digest"):  # the whole blob in this request
                digest = parse_digest(q["digest"])
                await receive(request, session.write)
                return self._created(name, str(await run(uploads.commit, session, digest)))
        finally:
            uploads.release(session)  # here, not in a worker: a cancelled await must not skip it
        return Response(b"", status_code=202, headers=self._upload_headers(session))

    async def upload(self, request: Request, name: str, upload_id: str) -> Response:
        uploads = self.state.uploads
        session = await run(uploads.resume, name, upload_id)
        method = request.method
        try:
            if method == "GET":
                return Response(b"", status_code=204, headers=self._upload_headers(session))
            if method == "DELETE":
                await run(uploads.cancel, session)
                return Response(b"", status_code=204)
            rng = request.headers.get("content-range")
            if rng:
                m = _CONTENT_RANGE.fullmatch(rng.strip())
                if not m:
                    raise ApiError(400, "BLOB_UPLOAD_INVALID", f"invalid Content-Range {rng!r}")
                if int(m.group(1)) != session.offset:
                    raise ApiError(
                        416,
                        "BLOB_UPLOAD_INVALID",
                        f"chunk starts at {m.group(1)}, upload is at {session.offset}",
                        headers=self._upload_headers(session),
                    )
            if method == "PUT":
                raw = request.query_params.get("digest")
                if not raw:
                    raise ApiError(400, "DIGEST_INVALID", "PUT of an upload needs ?digest=")
                digest = parse_digest(raw)
                await receive(request, session.write)
                return self._created(name, str(await run(uploads.commit, session, digest)))
            await receive(request, session.write)
            return Response(b"", status_code=202, headers=self._upload_headers(session))
        finally:  # not in a worker thread: quick, and a cancelled await must not skip it
            uploads.release(session)
