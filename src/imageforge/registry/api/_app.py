"""The HTTP edge: every endpoint of the OCI Distribution Spec v1.1 on Starlette.

Repository names contain slashes, so one route takes ``/v2/...`` and :func:`_route`
splits it by the spec's patterns. Handlers are async and call the synchronous storage
and metadata through ``anyio.to_thread``; request and response bodies are streamed in
chunks, never held whole (manifests excepted: they are small and size-limited).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, TypeVarTuple
from urllib.parse import quote

import anyio
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from imageforge.errors import DigestMismatch, ImageforgeError, InvalidArgument, NotFound
from imageforge.oci import Digest, digest_bytes, media
from imageforge.registry.api._audit import record, record_response
from imageforge.registry.api._errors import ApiError, error_response, from_imageforge
from imageforge.registry.api._manage import management_routes
from imageforge.registry.auth import (
    Access,
    Authorizer,
    TokenIssuer,
    check_robot,
    is_robot,
    parse_scope,
    project_of,
)
from imageforge.registry.auth._users import verify_password
from imageforge.registry.meta import ManifestRow, MetaStore
from imageforge.registry.policy import Decision, Gate, GateContext
from imageforge.registry.storage import FsBlobStorage
from imageforge.store import Ingest

__all__ = ["RegistryState", "create_app"]

NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
_CHUNK = 1 << 20
_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")
_MANIFEST_TYPES = media.MANIFEST_TYPES | media.INDEX_TYPES


@dataclass
class RegistryState:
    """What the handlers share: storage, metadata, auth and gates."""

    storage: FsBlobStorage
    meta: MetaStore
    tokens: TokenIssuer
    authorizer: Authorizer
    max_manifest_bytes: int = 4 << 20
    token_realm: str | None = None  # None: /token on this server
    push_gate: Gate | None = None
    pull_gate: Gate | None = None
    _basic_cache: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Target:
    kind: str  # base, catalog, tags, manifest, blob, uploads, upload, referrers
    name: str = ""
    ref: str = ""


def _route(path: str) -> _Target:
    if path in ("", "/"):
        return _Target("base")
    if path == "_catalog":
        return _Target("catalog")
    patterns = [
        ("tags", r"(?P<name>.+)/tags/list"),
        ("manifest", r"(?P<name>.+)/manifests/(?P<ref>[^/]+)"),
        ("uploads", r"(?P<name>.+)/blobs/uploads/?"),
        ("upload", r"(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)"),
        ("blob", r"(?P<name>.+)/blobs/(?P<ref>[^/]+)"),
        ("referrers", r"(?P<name>.+)/referrers/(?P<ref>[^/]+)"),
    ]
    for kind, pattern in patterns:
        m = re.fullmatch(pattern, path)
        if m:
            name = m.group("name")
            if not NAME_RE.fullmatch(name) or len(name) > 255:
                raise ApiError(400, "NAME_INVALID", f"invalid repository name {name!r}")
            return _Target(kind, name, m.groupdict().get("ref") or "")
    raise ApiError(404, "NOT_FOUND", f"no such endpoint /v2/{path}")


def _digest(value: str, code: str = "DIGEST_INVALID") -> Digest:
    try:
        return Digest(value)
    except InvalidArgument as exc:
        raise ApiError(400, code, exc.message) from None


def _parse_n(request: Request) -> int | None:
    raw = request.query_params.get("n")
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, "PAGINATION_NUMBER_INVALID", f"invalid n={raw!r}") from None
    if n < 0:
        raise ApiError(400, "PAGINATION_NUMBER_INVALID", f"invalid n={raw!r}")
    return n


async def _run(fn: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
    return await to_thread.run_sync(fn, *args)


# ---------------------------------------------------------------- auth


class _Auth:
    def __init__(self, state: RegistryState) -> None:
        self.state = state

    def challenge(self, request: Request, scopes: list[Access], error: str | None) -> ApiError:
        realm = self.state.token_realm or f"{request.url.scheme}://{request.url.netloc}/token"
        header = f'Bearer realm="{realm}",service="{self.state.tokens.service}"'
        if scopes:
            scope = " ".join(f"{a.type}:{a.name}:{','.join(sorted(a.actions))}" for a in scopes)
            header += f',scope="{scope}"'
        if error:
            header += f',error="{error}"'
        return ApiError(
            401,
            "UNAUTHORIZED",
            "authentication required",
            headers={"WWW-Authenticate": header},
        )

    def basic_user(self, header: str) -> str:
        """Check basic credentials; the user's name, or Unauthorized."""
        try:
            raw = base64.b64decode(header.split(" ", 1)[1]).decode()
            user, password = raw.split(":", 1)
        except (ValueError, IndexError, UnicodeDecodeError):
            raise ApiError(401, "UNAUTHORIZED", "malformed basic credentials") from None
        key = (user, digest_bytes(password.encode()))
        cache = self.state._basic_cache
        if cache.get(key, 0) > time.monotonic():
            if not is_robot(user):
                return user
            robot = self.state.meta.robot(user)  # deleted since: no longer valid
            if robot is not None and not robot.expired():
                return user
        lifetime = 60.0
        if is_robot(user):
            if not check_robot(self.state.meta, user, password):
                raise ApiError(401, "UNAUTHORIZED", "invalid, expired or deleted robot account")
            robot = self.state.meta.robot(user)
            if robot is not None and robot.expires is not None:
                lifetime = min(lifetime, robot.expires - time.time())
        else:
            row = self.state.meta.user(user)
            if row is None or not verify_password(row.password_hash, password):
                raise ApiError(401, "UNAUTHORIZED", "invalid username or password")
        cache[key] = time.monotonic() + lifetime
        return user

    async def require(self, request: Request, wanted: list[Access]) -> str | None:
        """Check that the request may do all of ``wanted``; return the user name."""
        header = request.headers.get("authorization", "")
        scheme = header.split(" ", 1)[0].lower()
        request.state.user = None
        if scheme == "bearer":
            try:
                user, granted = self.state.tokens.verify(header.split(" ", 1)[1])
            except ImageforgeError:
                raise self.challenge(request, wanted, "invalid_token") from None
            request.state.user = user
            if is_robot(user):
                # A token outlives nothing: a robot expired or deleted since it was
                # issued is refused at once.
                robot = await _run(self.state.meta.robot, str(user))
                if robot is None or robot.expired():
                    raise self.challenge(request, wanted, "invalid_token")
            for w in wanted:
                have = set().union(
                    *(g.actions for g in granted if g.type == w.type and g.name == w.name)
                )
                if not w.actions <= have:
                    raise self.challenge(request, wanted, "insufficient_scope")
            return user
        if scheme == "basic":
            request.state.user = _claimed(header)
            try:
                user = await _run(self.basic_user, header)
            except ApiError as err:
                raise self.challenge(request, wanted, None) from err
            for w in wanted:
                if not w.actions <= (await _run(self.state.authorizer.granted, user, w)).actions:
                    raise ApiError(403, "DENIED", f"{user} may not {','.join(w.actions)} {w.name}")
            return str(user)
        for w in wanted:
            if not w.actions <= (await _run(self.state.authorizer.granted, None, w)).actions:
                raise self.challenge(request, wanted, None)
        return None


# ---------------------------------------------------------------- handlers


def _claimed(header: str) -> str | None:
    """The user name in a basic Authorization header, unchecked (for the audit log)."""
    try:
        return base64.b64decode(header.split(" ", 1)[1]).decode().split(":", 1)[0]
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _repo_access(name: str, *actions: str) -> Access:
    return Access("repository", name, frozenset(actions))


class _Handlers:
    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.auth = _Auth(state)
        # Upload sessions between requests, kept open so a PUT after PATCHes does not
        # re-hash the data; after a restart they resume through ``begin`` instead.
        self._ingests: dict[str, Ingest] = {}

    # --- token endpoint
    async def token(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        user: str | None = None
        meta = self.state.meta
        if header.lower().startswith("basic "):
            try:
                user = await _run(self.auth.basic_user, header)
            except ApiError as err:
                await record(meta, request, _claimed(header), "login", "", "", "refused")
                return error_response(err)
        scopes = []
        for raw in request.query_params.getlist("scope"):
            for part in raw.split(" "):
                if part:
                    try:
                        scopes.append(parse_scope(part))
                    except InvalidArgument as exc:
                        return error_response(ApiError(400, "UNSUPPORTED", exc.message))
        granted = [await _run(self.state.authorizer.granted, user, s) for s in scopes]
        for want, got in zip(scopes, granted, strict=True):
            if want.actions - got.actions:
                missing = ",".join(sorted(want.actions - got.actions))
                await record(meta, request, user, missing, want.name, "", "refused", "token")
        token, lifetime = self.state.tokens.issue(user, granted)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return JSONResponse(
            {"token": token, "access_token": token, "expires_in": lifetime, "issued_at": issued}
        )

    # --- /v2/...
    async def dispatch(self, request: Request) -> Response:
        head = request.method == "HEAD"
        try:
            resp = await self._dispatch(request)
        except ApiError as err:
            resp = error_response(err, head)
        except ImageforgeError as exc:
            resp = error_response(from_imageforge(exc), head)
        resp.headers["Docker-Distribution-API-Version"] = "registry/2.0"
        target: _Target | None = getattr(request.state, "target", None)
        if target is not None:
            await record_response(
                self.state.meta, request, target.kind, target.name, target.ref, resp
            )
        return resp

    async def _dispatch(self, request: Request) -> Response:
        target = _route(request.path_params.get("path", ""))
        request.state.target = target
        method = request.method
        if target.kind == "base":
            await self.auth.require(request, [])
            if request.headers.get("authorization") is None:
                # Tell clients up front how to authenticate (Docker's /v2/ ping).
                raise self.auth.challenge(request, [], None)
            return JSONResponse({})
        if target.kind == "catalog":
            await self.auth.require(request, [Access("registry", "catalog", frozenset({"*"}))])
            return await self.catalog(request)
        name = target.name
        if target.kind == "tags" and method == "GET":
            await self.auth.require(request, [_repo_access(name, "pull")])
            return await self.tags(request, name)
        if target.kind == "manifest":
            action = {"GET": "pull", "HEAD": "pull", "PUT": "push", "DELETE": "delete"}.get(method)
            if action:
                user = await self.auth.require(request, [_repo_access(name, action)])
                if method in ("GET", "HEAD"):
                    return await self.get_manifest(request, name, target.ref, user)
                if method == "PUT":
                    return await self.put_manifest(request, name, target.ref, user)
                return await self.delete_manifest(name, target.ref)
        if target.kind == "blob":
            action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(method)
            if action:
                await self.auth.require(request, [_repo_access(name, action)])
                if method == "DELETE":
                    return await self.delete_blob(name, target.ref)
                return await self.get_blob(request, name, target.ref)
        if target.kind == "uploads" and method == "POST":
            return await self.start_upload(request, name)
        if target.kind == "upload" and method in ("GET", "PATCH", "PUT", "DELETE"):
            await self.auth.require(request, [_repo_access(name, "push")])
            return await self.upload(request, name, target.ref)
        if target.kind == "referrers" and method == "GET":
            await self.auth.require(request, [_repo_access(name, "pull")])
            return await self.referrers(request, name, target.ref)
        raise ApiError(405, "UNSUPPORTED", f"{method} is not supported on this endpoint")

    # --- listing
    async def catalog(self, request: Request) -> Response:
        n = _parse_n(request)
        last = request.query_params.get("last")
        repos = await _run(self.state.meta.repositories, last, None if n is None else n + 1)
        headers = {}
        if n is not None and len(repos) > n:
            repos = repos[:n]
            headers["Link"] = f'</v2/_catalog?n={n}&last={quote(repos[-1])}>; rel="next"'
        return JSONResponse({"repositories": repos}, headers=headers)

    async def tags(self, request: Request, name: str) -> Response:
        if not await _run(self.state.meta.repo_exists, name):
            raise ApiError(404, "NAME_UNKNOWN", f"repository {name} is not known")
        n = _parse_n(request)
        last = request.query_params.get("last")
        tags = await _run(self.state.meta.tags, name, last, None if n is None else n + 1)
        headers = {}
        if n is not None and len(tags) > n:
            tags = tags[:n]
            headers["Link"] = f'</v2/{name}/tags/list?n={n}&last={quote(tags[-1])}>; rel="next"'
        return JSONResponse({"name": name, "tags": tags}, headers=headers)

    # --- manifests
    def _resolve(self, name: str, ref: str, body: bool) -> tuple[ManifestRow, bytes]:
        """The manifest ``name:ref`` (tag or digest) and, if ``body``, its bytes: one
        trip to a worker thread per request."""
        meta = self.state.meta
        if ":" in ref:
            digest = _digest(ref)
        else:
            if not TAG_RE.fullmatch(ref):
                raise ApiError(400, "MANIFEST_INVALID", f"invalid tag {ref!r}")
            found = meta.resolve_tag(name, ref)
            if found is None:
                raise ApiError(404, "MANIFEST_UNKNOWN", f"manifest {name}:{ref} is not known")
            digest = found
        row = meta.manifest(name, digest)
        if row is None:
            raise ApiError(404, "MANIFEST_UNKNOWN", f"manifest {name}@{digest} is not known")
        return row, self._read_small(row.digest) if body else b""

    def _read_small(self, digest: Digest) -> bytes:
        with self.state.storage.open(digest) as f:
            return f.read()

    def _gate(self, gate: Gate | None, digest: Digest, ctx: GateContext) -> None:
        if gate is None:
            return
        decision: Decision = gate.check(digest, ctx)
        if not decision.allowed:
            raise ApiError(403, "DENIED", f"{ctx.action} refused by policy: {decision.reason}")

    async def get_manifest(
        self, request: Request, name: str, ref: str, user: str | None
    ) -> Response:
        row, body = await _run(self._resolve, name, ref, request.method != "HEAD")
        accept = {
            a.split(";")[0].strip() for a in request.headers.getlist("accept") for a in a.split(",")
        }
        specific = accept & _MANIFEST_TYPES
        if specific and row.media_type not in accept and "*/*" not in accept:
            raise ApiError(
                404,
                "MANIFEST_UNKNOWN",
                f"manifest {name}:{ref} is {row.media_type}, not one of the accepted types",
            )
        if self.state.pull_gate is not None:
            ctx = GateContext("pull", name, user)
            await _run(self._gate, self.state.pull_gate, row.digest, ctx)
        headers = {
            "Docker-Content-Digest": str(row.digest),
            "Content-Type": row.media_type,
            "Content-Length": str(row.size),
        }
        if request.method == "HEAD":
            return Response(b"", headers=headers)
        return Response(body, headers=headers, media_type=row.media_type)

    def _check_manifest(
        self, name: str, body: bytes, content_type: str
    ) -> tuple[ManifestRow, list[Digest], list[Digest]]:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "MANIFEST_INVALID", f"manifest is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "MANIFEST_INVALID", "manifest is not a JSON object")
        mt = doc.get("mediaType") or content_type.split(";")[0].strip()
        if doc.get("mediaType") and content_type and content_type.split(";")[0] != doc["mediaType"]:
            if content_type.split(";")[0].strip() in _MANIFEST_TYPES:
                raise ApiError(
                    400,
                    "MANIFEST_INVALID",
                    f"Content-Type {content_type} differs from mediaType {doc['mediaType']}",
                )
        if mt not in _MANIFEST_TYPES:
            raise ApiError(400, "MANIFEST_INVALID", f"unsupported manifest media type {mt!r}")
        if doc.get("schemaVersion") != 2:
            raise ApiError(400, "MANIFEST_INVALID", "schemaVersion must be 2")
        meta = self.state.meta

        def desc_digest(d: object, where: str) -> Digest:
            if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
                raise ApiError(400, "MANIFEST_INVALID", f"{where}: descriptor without a digest")
            if not isinstance(d.get("size"), int) or d["size"] < 0:
                raise ApiError(400, "MANIFEST_INVALID", f"{where}: descriptor without a size")
            return _digest(d["digest"], "MANIFEST_INVALID")

        blobs: list[Digest] = []
        children: list[Digest] = []
        artifact_type = doc.get("artifactType")
        if mt in media.MANIFEST_TYPES:
            config = doc.get("config")
            layers = doc.get("layers")
            if not isinstance(layers, list):
                raise ApiError(400, "MANIFEST_INVALID", "manifest without a layers list")
            blobs.append(desc_digest(config, "config"))
            if artifact_type is None and isinstance(config, dict):
                artifact_type = config.get("mediaType")
            for i, layer in enumerate(layers):
                if isinstance(layer, dict) and layer.get("mediaType") in (
                    media.DOCKER_FOREIGN_LAYER,
                ):
                    continue
                blobs.append(desc_digest(layer, f"layers[{i}]"))
            for b in blobs:
                if not meta.blob_linked(name, b):
                    raise ApiError(
                        400, "MANIFEST_BLOB_UNKNOWN", f"blob {b} is not in {name}", {"digest": b}
                    )
        else:
            manifests = doc.get("manifests")
            if not isinstance(manifests, list):
                raise ApiError(400, "MANIFEST_INVALID", "index without a manifests list")
            for i, m in enumerate(manifests):
                child = desc_digest(m, f"manifests[{i}]")
                if meta.manifest(name, child) is None:
                    raise ApiError(
                        400,
                        "MANIFEST_BLOB_UNKNOWN",
                        f"manifest {child} is not in {name}",
                        {"digest": child},
                    )
                children.append(child)
        subject = None
        if doc.get("subject") is not None:
            subject = desc_digest(doc["subject"], "subject")
        digest = digest_bytes(body)
        row = ManifestRow(name, digest, mt, len(body), artifact_type, subject)
        return row, children, blobs

    async def _read_body(self, request: Request, limit: int) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise ApiError(413, "SIZE_INVALID", f"manifest is larger than {limit} bytes")
        parts = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise ApiError(413, "SIZE_INVALID", f"manifest is larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def put_manifest(
        self, request: Request, name: str, ref: str, user: str | None
    ) -> Response:
        body = await self._read_body(request, self.state.max_manifest_bytes)
        tag: str | None = None
        if ":" in ref:
            expected = _digest(ref)
        else:
            if not TAG_RE.fullmatch(ref):
                raise ApiError(400, "MANIFEST_INVALID", f"invalid tag {ref!r}")
            expected, tag = None, ref
        row, children, blobs = await _run(
            self._check_manifest, name, body, request.headers.get("content-type", "")
        )
        if expected is not None:
            actual = digest_bytes(body, expected.algorithm)
            if actual != expected:
                raise ApiError(
                    400, "DIGEST_INVALID", f"manifest has digest {actual}, not {expected}"
                )
            row = ManifestRow(
                name, expected, row.media_type, row.size, row.artifact_type, row.subject
            )
        await _run(self._gate, self.state.push_gate, row.digest, GateContext("push", name, user))
        await _run(self.state.storage.write_blob, body, row.digest)
        locked = None if tag is None else await _run(self._immutable, name, [tag])
        try:
            await _run(self.state.meta.put_manifest, row, children, blobs, tag, locked is not None)
        except NotFound as exc:  # unlinked by garbage collection since the check above
            raise ApiError(400, "MANIFEST_BLOB_UNKNOWN", exc.message) from None
        # garbage collection may have moved the body aside since write_blob found it
        await _run(self.state.storage.write_blob, body, row.digest)
        headers = {
            "Location": f"/v2/{name}/manifests/{row.digest}",
            "Docker-Content-Digest": str(row.digest),
        }
        if row.subject:
            headers["OCI-Subject"] = str(row.subject)
        return Response(b"", status_code=201, headers=headers)

    def _immutable(self, name: str, tags: list[str]) -> str | None:
        """The first of ``tags`` an immutable rule of ``name``'s project covers."""
        patterns = self.state.meta.immutable(project_of(name))
        for tag in tags:
            if any(fnmatch.fnmatchcase(tag, p) for p in patterns):
                return tag
        return None

    async def delete_manifest(self, name: str, ref: str) -> Response:
        meta = self.state.meta
        tags = [ref] if ":" not in ref else await _run(meta.tags_of, name, _digest(ref))
        locked = await _run(self._immutable, name, tags)
        if locked is not None:
            raise ApiError(403, "DENIED", f"tag {name}:{locked} is immutable")
        if ":" in ref:
            if not await _run(meta.delete_manifest, name, _digest(ref)):
                raise ApiError(404, "MANIFEST_UNKNOWN", f"manifest {name}@{ref} is not known")
        elif not await _run(meta.delete_tag, name, ref):
            raise ApiError(404, "MANIFEST_UNKNOWN", f"tag {name}:{ref} is not known")
        return Response(b"", status_code=202)

    async def referrers(self, request: Request, name: str, ref: str) -> Response:
        subject = _digest(ref)
        rows = await _run(self.state.meta.referrers, name, subject)
        wanted = request.query_params.get("artifactType")
        headers = {"Content-Type": media.OCI_INDEX}
        if wanted:
            rows = [r for r in rows if r.artifact_type == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        descriptors = []
        for r in rows:
            d: dict[str, Any] = {"mediaType": r.media_type, "digest": str(r.digest), "size": r.size}
            if r.artifact_type:
                d["artifactType"] = r.artifact_type
            doc = json.loads(await _run(self._read_small, r.digest))
            if isinstance(doc.get("annotations"), dict):
                d["annotations"] = doc["annotations"]
            descriptors.append(d)
        body = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": descriptors}
        return Response(json.dumps(body).encode(), headers=headers, media_type=media.OCI_INDEX)

    # --- blobs
    async def get_blob(self, request: Request, name: str, ref: str) -> Response:
        digest = _digest(ref)
        if not await _run(self.state.meta.blob_linked, name, digest):
            raise ApiError(
                404, "BLOB_UNKNOWN", f"blob {digest} is not in {name}", {"digest": digest}
            )
        try:
            info = await _run(self.state.storage.info, digest)
        except NotFound:
            raise ApiError(404, "BLOB_UNKNOWN", f"blob {digest} is not stored") from None
        start, end, status = 0, info.size - 1, 200
        rng = request.headers.get("range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
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
        f = await _run(self.state.storage.open, digest, start)
        return StreamingResponse(_stream_file(f, end - start + 1), status, headers=headers)

    async def delete_blob(self, name: str, ref: str) -> Response:
        digest = _digest(ref)
        if not await _run(self.state.meta.unlink_blob, name, digest):
            raise ApiError(404, "BLOB_UNKNOWN", f"blob {digest} is not in {name}")
        return Response(b"", status_code=202)

    # --- uploads
    def _upload_headers(self, name: str, upload_id: str, offset: int) -> dict[str, str]:
        return {
            "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
            "Docker-Upload-UUID": upload_id,
            "Range": f"0-{max(offset - 1, 0)}",
        }

    def _done(self, name: str, digest: Digest) -> Response:
        self.state.meta.link_blob(name, digest)
        if not self.state.storage.exists(digest):
            # Garbage collection took the file between our commit (which found it
            # present and stored nothing) and the link: undo the link, let the client
            # upload again.
            self.state.meta.unlink_blob(name, digest)
            raise ApiError(
                409, "BLOB_UPLOAD_INVALID", f"blob {digest} was collected meanwhile; upload again"
            )
        headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)}
        return Response(b"", status_code=201, headers=headers)

    async def start_upload(self, request: Request, name: str) -> Response:
        q = request.query_params
        mount, source = q.get("mount"), q.get("from")
        if mount and source:
            digest = _digest(mount)
            if not NAME_RE.fullmatch(source):
                raise ApiError(400, "NAME_INVALID", f"invalid repository name {source!r}")
            await self.auth.require(
                request, [_repo_access(name, "pull", "push"), _repo_access(source, "pull")]
            )
            if await _run(self.state.meta.blob_linked, source, digest):
                return await _run(self._done, name, digest)
        else:
            await self.auth.require(request, [_repo_access(name, "pull", "push")])
        upload_id = str(uuid.uuid4())
        ingest: Ingest = await _run(self.state.storage.begin, _ingest_ref(upload_id))
        await _run(self.state.meta.add_upload, upload_id, name)
        if q.get("digest"):
            try:
                digest = _digest(q["digest"])
                await self._receive(request, ingest)
                return await self._commit(name, upload_id, ingest, digest)
            finally:
                await _run(ingest.close)
        self._ingests[upload_id] = ingest
        return Response(b"", status_code=202, headers=self._upload_headers(name, upload_id, 0))

    async def _receive(self, request: Request, ingest: Ingest) -> None:
        buf: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            buf.append(chunk)
            size += len(chunk)
            if size >= _CHUNK:
                await _run(ingest.write, b"".join(buf))
                buf, size = [], 0
        if buf:
            await _run(ingest.write, b"".join(buf))

    async def _commit(self, name: str, upload_id: str, ingest: Ingest, digest: Digest) -> Response:
        try:
            await _run(ingest.commit, ingest.offset, digest)
        except DigestMismatch as exc:
            raise ApiError(400, "DIGEST_INVALID", exc.message, {"digest": str(digest)}) from None
        except InvalidArgument as exc:
            raise ApiError(400, "DIGEST_INVALID", exc.message) from None
        finally:
            await _run(self.state.meta.remove_upload, upload_id)
        return await _run(self._done, name, digest)

    async def upload(self, request: Request, name: str, upload_id: str) -> Response:
        repo = await _run(self.state.meta.upload_repo, upload_id)
        if repo != name:
            raise ApiError(404, "BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} is not known")
        storage = self.state.storage
        # Taken out of the table while in use: a concurrent request for the same session
        # meets the ingest's lock (Conflict) instead of interleaving writes.
        ingest = self._ingests.pop(upload_id, None)
        if ingest is None:
            try:
                ingest = await _run(storage.begin, _ingest_ref(upload_id))
            except ImageforgeError as exc:
                raise from_imageforge(exc, "BLOB_UPLOAD_INVALID") from None
        method = request.method
        finished = method in ("DELETE", "PUT")
        try:
            if method == "GET":
                headers = self._upload_headers(name, upload_id, ingest.offset)
                return Response(b"", status_code=204, headers=headers)
            if method == "DELETE":
                await _run(ingest.abort)
                await _run(self.state.meta.remove_upload, upload_id)
                return Response(b"", status_code=204)
            rng = request.headers.get("content-range")
            if rng:
                m = re.fullmatch(r"(?:bytes )?(\d+)-(\d+)(?:/\d+|/\*)?", rng.strip())
                if not m:
                    raise ApiError(400, "BLOB_UPLOAD_INVALID", f"invalid Content-Range {rng!r}")
                if int(m.group(1)) != ingest.offset:
                    raise ApiError(
                        416,
                        "BLOB_UPLOAD_INVALID",
                        f"chunk starts at {m.group(1)}, upload is at {ingest.offset}",
                        headers=self._upload_headers(name, upload_id, ingest.offset),
                    )
            await self._receive(request, ingest)
            if method == "PATCH":
                headers = self._upload_headers(name, upload_id, ingest.offset)
                return Response(b"", status_code=202, headers=headers)
            if method == "PUT":
                raw = request.query_params.get("digest")
                if not raw:
                    raise ApiError(400, "DIGEST_INVALID", "PUT of an upload needs ?digest=")
                return await self._commit(name, upload_id, ingest, _digest(raw))
            raise ApiError(405, "UNSUPPORTED", f"{method} on an upload")
        finally:
            if finished:
                await _run(ingest.close)  # after commit or abort: only releases
            else:
                self._ingests[upload_id] = ingest


def _ingest_ref(upload_id: str) -> str:
    return f"upload-{upload_id}"


async def _stream_file(f: IO[bytes], length: int) -> AsyncIterator[bytes]:
    try:
        remaining = length
        while remaining > 0:
            chunk = await _run(f.read, min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await _run(f.close)


def create_app(state: RegistryState) -> Starlette:
    """The ASGI application serving ``state``."""
    h = _Handlers(state)

    def route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
        return Route(path, endpoint, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])

    app = Starlette(
        routes=[
            route("/v2/", h.dispatch),
            route("/v2/{path:path}", h.dispatch),
            Route("/token", h.token, methods=["GET"]),
            *management_routes(state.meta, state.authorizer, h.auth.basic_user),
        ]
    )
    app.state.registry = state
    _ = anyio  # anyio is the thread bridge (to_thread) used above
    return app
