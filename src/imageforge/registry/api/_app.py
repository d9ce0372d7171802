"""The HTTP edge: every endpoint of the OCI Distribution Spec v1.1 on Starlette.

Repository names contain slashes, so one route takes ``/v2/...`` and :func:`_route`
splits it by the spec's patterns. Handlers are async and call the synchronous storage
and metadata through ``anyio.to_thread``; request and response bodies are streamed in
chunks, never held whole (manifests excepted: they are small and size-limited).

Every request is authorized against the current state: a bearer token is an upper bound
whose subject must still have the same credentials (``ver``) and still be granted the
actions now; basic credentials are checked (or a cached check confirmed against the
stored hash) each time. Upload sessions hold no descriptor between requests and expire
(``_uploads``).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hmac
import json
import logging
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
from imageforge.registry._gc import blobs_named_by
from imageforge.registry._uploads import ingest_ref, purge_uploads, sweep_interval
from imageforge.registry.api._audit import record, record_response, remote_of
from imageforge.registry.api._errors import ApiError, error_response, from_imageforge
from imageforge.registry.api._manage import management_routes
from imageforge.registry.auth import (
    Access,
    Authorizer,
    LoginLimiter,
    TokenIssuer,
    credential_version,
    is_robot,
    parse_scope,
    project_of,
    subject_version,
    verify_password,
)
from imageforge.registry.meta import ManifestRow, MetaStore
from imageforge.registry.policy import Decision, Gate, GateContext
from imageforge.registry.storage import FsBlobStorage
from imageforge.store import FileIngest

__all__ = ["RegistryState", "create_app"]

NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
_CHUNK = 1 << 20
_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")
_MANIFEST_TYPES = media.MANIFEST_TYPES | media.INDEX_TYPES
_MAX_SCOPES = 100  # per token request (docker asks for one or two)
_BASIC_CACHE_SECONDS = 60.0
_BASIC_CACHE_MAX = 10_000
_LOG = logging.getLogger("imageforge.registry")


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
    upload_expiry: float = 7 * 86400  # seconds after which an unfinished upload is purged
    logins: LoginLimiter = field(default_factory=LoginLimiter)
    # (user, digest of the password) -> (valid until, the stored hash it was checked
    # against): a cached check counts only while the stored hash is still that one.
    _basic_cache: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)


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

    def challenge(
        self,
        request: Request,
        scopes: list[Access],
        error: str | None,
        message: str = "authentication required",
    ) -> ApiError:
        realm = self.state.token_realm or f"{request.url.scheme}://{request.url.netloc}/token"
        header = f'Bearer realm="{realm}",service="{self.state.tokens.service}"'
        if scopes:
            scope = " ".join(f"{a.type}:{a.name}:{','.join(sorted(a.actions))}" for a in scopes)
            header += f',scope="{scope}"'
        if error:
            header += f',error="{error}"'
        return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": header})

    def _credential(self, user: str) -> tuple[str | None, bool]:
        """``user``'s stored password (or robot secret) hash, None if there is no such
        user, and whether it may log in now (a robot: not expired)."""
        meta = self.state.meta
        if is_robot(user):
            robot = meta.robot(user)
            if robot is None:
                return None, False
            return robot.secret_hash, not robot.expired()
        row = meta.user(user)
        return (None, False) if row is None else (row.password_hash, True)

    def basic_login(self, header: str, remote: str) -> tuple[str, str]:
        """Check basic credentials from ``remote``: the user's name and the stored hash
        they matched, or ApiError 401 (wrong) or 429 (too many failures lately)."""
        try:
            raw = base64.b64decode(header.split(" ", 1)[1]).decode()
            user, password = raw.split(":", 1)
        except (ValueError, IndexError, UnicodeDecodeError):
            raise ApiError(401, "UNAUTHORIZED", "malformed basic credentials") from None
        limiter = self.state.logins
        lockout = limiter.check(user, remote)
        if lockout is not None:
            if lockout.first:  # one entry per lockout, not one per attempt
                detail = f"locked out: {lockout.why}; for {lockout.retry_after} s"
                self.state.meta.audit_add(user, "login", "", "", "refused", remote, detail)
            raise ApiError(
                429,
                "TOOMANYREQUESTS",
                f"too many failed logins ({lockout.why}); try again in {lockout.retry_after} s",
                headers={"Retry-After": str(lockout.retry_after)},
            )
        stored, usable = self._credential(user)
        key = (user, str(digest_bytes(password.encode())))
        cache = self.state._basic_cache
        now = time.monotonic()
        cached = cache.get(key)
        if usable and stored is not None and cached is not None:
            until, checked = cached
            if until > now and hmac.compare_digest(checked, stored):
                return user, stored
        # The hash is checked even for an unknown user (against a dummy) and an expired
        # robot: the answer takes as long whether the name exists or not.
        if not verify_password(stored, password) or not usable or stored is None:
            cache.pop(key, None)
            limiter.failed(user, remote)
            if is_robot(user):
                raise ApiError(401, "UNAUTHORIZED", "invalid, expired or deleted robot account")
            raise ApiError(401, "UNAUTHORIZED", "invalid username or password")
        limiter.succeeded(user, remote)
        if len(cache) >= _BASIC_CACHE_MAX:
            for k in [k for k, (until, _h) in cache.items() if until <= now] or list(cache):
                del cache[k]
        cache[key] = (now + _BASIC_CACHE_SECONDS, stored)
        return user, stored

    def basic_user(self, header: str, remote: str) -> str:
        """Check basic credentials; the user's name, or ApiError (401 or 429)."""
        return self.basic_login(header, remote)[0]

    async def require(self, request: Request, wanted: list[Access]) -> str | None:
        """Check that the request may do all of ``wanted``; return the user name."""
        header = request.headers.get("authorization", "")
        scheme = header.split(" ", 1)[0].lower()
        request.state.user = None
        if scheme == "bearer":
            try:
                claims = self.state.tokens.verify(header.split(" ", 1)[1])
            except ImageforgeError as exc:
                raise self.challenge(request, wanted, "invalid_token", exc.message) from None
            user = claims.subject
            request.state.user = user
            if user is not None:
                # A token outlives nothing: its subject deleted, expired or given a new
                # password or secret since it was issued is refused at once.
                current = await _run(subject_version, self.state.meta, user)
                if current is None or not hmac.compare_digest(current, claims.version):
                    raise self.challenge(
                        request,
                        wanted,
                        "invalid_token",
                        f"token of {user} is revoked: the account changed since it was issued",
                    )
            for w in wanted:
                have = set().union(
                    *(g.actions for g in claims.access if g.type == w.type and g.name == w.name)
                )
                what = f"{','.join(sorted(w.actions))} on {w.name}"
                if not w.actions <= have:
                    raise self.challenge(
                        request, wanted, "insufficient_scope", f"token does not grant {what}"
                    )
                # ... and what it grants counts only while the subject may still do it
                if not w.actions <= (await _run(self.state.authorizer.granted, user, w)).actions:
                    raise self.challenge(
                        request,
                        wanted,
                        "insufficient_scope",
                        f"token grants {what}, but {user or 'anonymous'} may no longer do it",
                    )
            return user
        if scheme == "basic":
            request.state.user = _claimed(header)
            try:
                user = await _run(self.basic_user, header, remote_of(request))
            except ApiError as err:
                if err.status != 401:
                    raise
                raise self.challenge(request, wanted, None, err.message) from err
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
        # Upload sessions between requests, suspended: no descriptor open, but the hash
        # state kept so a PUT after PATCHes does not read the data again (after a restart,
        # or in another process, they resume through ``begin``, which re-hashes). Each
        # with the time it began, so expired ones are forgotten.
        self._ingests: dict[str, tuple[float, FileIngest]] = {}

    # --- upload expiry
    async def sweep_uploads(self) -> None:
        """Purge expired upload sessions now and every ``sweep_interval``."""
        expiry = self.state.upload_expiry
        while True:
            try:
                purged = await _run(purge_uploads, self.state.meta, self.state.storage, expiry)
            except Exception as exc:  # a background loop: log, never end the server
                _LOG.warning("purging expired uploads failed (next try later): %s", exc)
            else:
                for upload_id in purged:
                    self._ingests.pop(upload_id, None)
                if purged:
                    _LOG.info("purged %d upload sessions older than %g s", len(purged), expiry)
            cutoff = time.time() - expiry
            for upload_id in [u for u, (t, _i) in self._ingests.items() if t < cutoff]:
                del self._ingests[upload_id]
            await anyio.sleep(sweep_interval(expiry))

    # --- token endpoint
    async def token(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        user: str | None = None
        version = ""
        meta = self.state.meta
        if header.lower().startswith("basic "):
            try:
                user, stored = await _run(self.auth.basic_login, header, remote_of(request))
            except ApiError as err:
                if err.status == 401:  # a lockout (429) is logged once by basic_login
                    await record(
                        meta, request, _claimed(header), "login", "", "", "refused", err.message
                    )
                return error_response(err)
            version = credential_version(stored)
        parts = [p for raw in request.query_params.getlist("scope") for p in raw.split(" ") if p]
        if len(parts) > _MAX_SCOPES:
            return error_response(
                ApiError(
                    400,
                    "UNSUPPORTED",
                    f"a token request names at most {_MAX_SCOPES} scopes, not {len(parts)}",
                )
            )
        scopes = []
        for part in parts:
            try:
                scopes.append(parse_scope(part))
            except InvalidArgument as exc:
                return error_response(ApiError(400, "UNSUPPORTED", exc.message))
        granted = [await _run(self.state.authorizer.granted, user, s) for s in scopes]
        refused = [
            (want, want.actions - got.actions)
            for want, got in zip(scopes, granted, strict=True)
            if want.actions - got.actions
        ]
        if refused:
            await self._record_token_refusals(request, user, refused)
        token, lifetime = self.state.tokens.issue(user, granted, version)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return JSONResponse(
            {"token": token, "access_token": token, "expires_in": lifetime, "issued_at": issued}
        )

    async def _record_token_refusals(
        self, request: Request, user: str | None, refused: list[tuple[Access, frozenset[str]]]
    ) -> None:
        """One audit entry per token request, however many scopes it was refused."""
        if len(refused) == 1:
            want, missing = refused[0]
            action, detail = ",".join(sorted(missing)), "token"
        else:
            action = ",".join(sorted(set().union(*(m for _w, m in refused))))
            listed = "; ".join(f"{w.name} ({','.join(sorted(m))})" for w, m in refused)
            if len(listed) > 1000:
                listed = listed[:1000] + "..."
            detail = f"token: {len(refused)} scopes refused: {listed}"
            want = refused[0][0]
        await record(self.state.meta, request, user, action, want.name, "", "refused", detail)

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
        # The immutable rules are checked in the deleting transaction (meta): neither
        # a tag they cover nor a manifest such a tag needs (directly or in its index).
        meta = self.state.meta
        project = project_of(name)
        if ":" in ref:
            if not await _run(meta.delete_manifest, name, _digest(ref), project):
                raise ApiError(404, "MANIFEST_UNKNOWN", f"manifest {name}@{ref} is not known")
        elif not await _run(meta.delete_tag, name, ref, project):
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

    def _blobs_of(self, manifest: Digest) -> list[str]:
        return blobs_named_by(self.state.storage, manifest)

    async def delete_blob(self, name: str, ref: str) -> Response:
        digest = _digest(ref)
        unlink = self.state.meta.unlink_blob
        if not await _run(unlink, name, digest, project_of(name), self._blobs_of):
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
        ingest = await _run(self.state.storage.begin, ingest_ref(upload_id))
        suspended = False
        try:
            await _run(self.state.meta.add_upload, upload_id, name)
            if q.get("digest"):
                digest = _digest(q["digest"])
                await self._receive(request, ingest)
                return await self._commit(name, upload_id, ingest, digest)
            # No descriptor stays open until the next request. (Called here, not in a
            # worker thread: it is quick, and a cancelled await must not skip it.)
            ingest.suspend()
            suspended = True
        finally:
            if not suspended:
                ingest.close()  # after commit or abort it only releases
        self._ingests[upload_id] = (time.time(), ingest)
        return Response(b"", status_code=202, headers=self._upload_headers(name, upload_id, 0))

    async def _receive(self, request: Request, ingest: FileIngest) -> None:
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

    async def _commit(
        self, name: str, upload_id: str, ingest: FileIngest, digest: Digest
    ) -> Response:
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
            if repo is None:  # finished, cancelled or purged (by another process too)
                self._ingests.pop(upload_id, None)
            raise ApiError(404, "BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} is not known")
        storage = self.state.storage
        # Taken out of the table while in use: a concurrent request for the same session
        # meets the ingest's lock (Conflict) instead of interleaving writes.
        began, ingest = self._ingests.pop(upload_id, (time.time(), None))
        try:
            if ingest is None:
                ingest = await _run(storage.begin, ingest_ref(upload_id))
            else:
                await _run(ingest.resume)
        except NotFound:
            raise ApiError(
                404, "BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} expired or was cancelled"
            ) from None
        except ImageforgeError as exc:
            if ingest is not None:  # in use elsewhere: keep our suspended state
                self._ingests[upload_id] = (began, ingest)
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
        finally:  # not in a worker thread: quick, and a cancelled await must not skip it
            if finished:
                ingest.close()  # after commit or abort: only releases
            else:
                ingest.suspend()
                self._ingests[upload_id] = (began, ingest)


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

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.sweep_uploads)
            yield
            tg.cancel_scope.cancel()

    app = Starlette(
        routes=[
            route("/v2/", h.dispatch),
            route("/v2/{path:path}", h.dispatch),
            Route("/token", h.token, methods=["GET"]),
            *management_routes(state.meta, state.authorizer, h.auth.basic_user),
        ],
        lifespan=lifespan,
    )
    app.state.registry = state
    return app
