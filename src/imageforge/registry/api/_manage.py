"""The management API under ``/api/v1/``: users, projects (with immutable tag rules),
members and roles, robot accounts, the audit log, and listings of repositories, tags and
manifests. JSON in and out; request bodies are checked against the same schemas the
OpenAPI description publishes. HTTP basic auth (users, not robots); read-only listings
of public projects are open to anonymous callers. Request bodies larger than 1 MiB are
refused (413) before they are read whole.

Who may: system admins everything; a project's ``admin`` its members and robots;
project members read their project; nobody else sees a private project (404). Every
refusal (401, 403, 429 and the 404s that hide what a caller may not see) is audited.
A project that holds repositories is deleted only with ``?force=true`` (which deletes
them too), as Harbor refuses to delete a non-empty project."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.errors import Conflict, Denied, ImageforgeError
from imageforge.registry.api._audit import record, remote_of
from imageforge.registry.api._errors import ApiError, error_response, from_imageforge
from imageforge.registry.api._openapi import BODIES, openapi
from imageforge.registry.auth import (
    Access,
    Authorizer,
    create_robot,
    hash_password,
    is_robot,
    project_of,
    robot_name,
)
from imageforge.registry.meta import MetaStore, ProjectRow, RobotRow

__all__ = ["management_routes"]

_Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 1 << 20  # bytes of a management request's body
_VALIDATORS = {name: jsonschema.Draft7Validator(schema) for name, schema in BODIES.items()}


def _robot_json(row: RobotRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "project": row.project,
        "actions": sorted(row.actions),
        "expires": row.expires,
        "created": row.created,
    }


class _Manage:
    def __init__(
        self, meta: MetaStore, authorizer: Authorizer, basic: Callable[[str, str], str]
    ) -> None:
        self.meta = meta
        self.authz = authorizer
        self.basic = basic

    # --- plumbing
    async def _user(self, request: Request, required: bool = True) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            if required:
                raise ApiError(
                    401,
                    "UNAUTHORIZED",
                    "authentication required",
                    headers={"WWW-Authenticate": 'Basic realm="imageforge"'},
                )
            return None
        try:
            claimed = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            claimed = None
        request.state.user = claimed
        try:
            user = await to_thread.run_sync(self.basic, header, remote_of(request))
        except ApiError as err:
            if err.status == 401:
                err.headers["WWW-Authenticate"] = 'Basic realm="imageforge"'
            raise
        if is_robot(user):
            raise ApiError(403, "DENIED", "robot accounts cannot use the management API")
        return user

    async def _body(self, request: Request, schema: str) -> dict[str, Any]:
        too_large = ApiError(
            413, "TOO_LARGE", f"request body is larger than {MAX_BODY} bytes (the limit)"
        )
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise too_large
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large
            parts.append(chunk)
        raw = b"".join(parts)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "INVALID", f"body is not JSON: {exc}") from None
        errors = sorted(_VALIDATORS[schema].iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "body"
            raise ApiError(400, "INVALID", f"{where}: {errors[0].message}")
        assert isinstance(doc, dict)
        return doc

    def _admin(self, user: str | None) -> None:
        if not self.authz.is_system_admin(user):
            raise ApiError(403, "DENIED", f"{user} is not a system admin")

    def _visible(self, user: str | None, name: str) -> ProjectRow:
        row = self.meta.project(name)
        if row is None or not (row.public or self.authz.role(user, name) is not None):
            raise ApiError(404, "NOT_FOUND", f"project {name} does not exist")
        return row

    def _project_admin(self, user: str | None, name: str) -> ProjectRow:
        row = self._visible(user, name)
        if self.authz.role(user, name) != "admin":
            raise ApiError(403, "DENIED", f"{user} is not an admin of project {name}")
        return row

    def _project_json(self, row: ProjectRow) -> dict[str, Any]:
        return {
            "name": row.name,
            "public": row.public,
            "immutable_tags": self.meta.immutable(row.name),
        }

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await to_thread.run_sync(fn, *args)

    # --- users
    async def users(self, request: Request) -> Response:
        user = await self._user(request)
        self._admin(user)
        if request.method == "GET":
            rows = await self._run(self.meta.users)
            return JSONResponse([{"name": r.name, "admin": r.admin} for r in rows])
        body = await self._body(request, "NewUser")
        if await self._run(self.meta.user, body["name"]) is not None:
            raise ApiError(409, "CONFLICT", f"user {body['name']} exists")
        pw_hash = await self._run(hash_password, body["password"])
        await self._run(self.meta.add_user, body["name"], pw_hash, bool(body.get("admin")))
        request.state.audit = ("", f"add user {body['name']}")
        return JSONResponse({"name": body["name"], "admin": bool(body.get("admin"))}, 201)

    async def user(self, request: Request) -> Response:
        self._admin(await self._user(request))
        name = request.path_params["user"]
        if name == "admin" or not await self._run(self.meta.delete_user, name):
            raise ApiError(404 if name != "admin" else 403, "DENIED", f"cannot delete user {name}")
        request.state.audit = ("", f"delete user {name}")
        return Response(status_code=204)

    # --- projects
    async def projects(self, request: Request) -> Response:
        if request.method == "GET":
            user = await self._user(request, required=False)
            rows = await self._run(self.meta.projects)
            out = [
                self._project_json(r)
                for r in rows
                if r.public or self.authz.role(user, r.name) is not None
            ]
            return JSONResponse(out)
        self._admin(await self._user(request))
        body = await self._body(request, "NewProject")
        if await self._run(self.meta.project, body["name"]) is not None:
            raise ApiError(409, "CONFLICT", f"project {body['name']} exists")
        await self._run(self.meta.add_project, body["name"], bool(body.get("public")))
        await self._run(self.meta.set_immutable, body["name"], body.get("immutable_tags", []))
        request.state.audit = (body["name"], "add project")
        row = ProjectRow(body["name"], bool(body.get("public")))
        return JSONResponse(self._project_json(row), 201)

    async def project(self, request: Request) -> Response:
        name = request.path_params["project"]
        if request.method == "GET":
            user = await self._user(request, required=False)
            return JSONResponse(self._project_json(self._visible(user, name)))
        self._admin(await self._user(request))
        force = request.query_params.get("force", "false").lower()
        if force not in ("true", "false", "1", "0"):
            raise ApiError(400, "INVALID", f"force={force!r} is not true or false")
        if name == "library":
            raise ApiError(403, "DENIED", "the project library cannot be deleted")
        try:
            deleted = await self._run(self.meta.delete_project, name, force in ("true", "1"))
        except (Conflict, Denied) as exc:
            status, code = (409, "CONFLICT") if isinstance(exc, Conflict) else (403, "DENIED")
            hint = exc.hint.replace("--force (API: ?force=true)", "?force=true") if exc.hint else ""
            raise ApiError(
                status, code, f"{exc.message}; {hint}" if hint else exc.message
            ) from None
        if deleted is None:
            raise ApiError(404, "NOT_FOUND", f"project {name} does not exist")
        detail = "delete project" + (f" and its {len(deleted)} repositories" if deleted else "")
        request.state.audit = (name, detail)
        return Response(status_code=204)

    # --- members
    async def members(self, request: Request) -> Response:
        user = await self._user(request)
        name = request.path_params["project"]
        self._visible(user, name)
        if self.authz.role(user, name) is None:
            raise ApiError(403, "DENIED", f"{user} is not a member of {name}")
        rows = await self._run(self.meta.members, name)
        return JSONResponse([{"user": u, "role": r} for u, r in rows])

    async def member(self, request: Request) -> Response:
        user = await self._user(request)
        name, who = request.path_params["project"], request.path_params["user"]
        self._project_admin(user, name)
        if request.method == "DELETE":
            if not await self._run(self.meta.remove_member, name, who):
                raise ApiError(404, "NOT_FOUND", f"{who} is not a member of {name}")
            request.state.audit = (name, f"remove member {who}")
            return Response(status_code=204)
        body = await self._body(request, "Member")
        if await self._run(self.meta.user, who) is None:
            raise ApiError(404, "NOT_FOUND", f"user {who} does not exist")
        await self._run(self.meta.add_member, name, who, body["role"])
        request.state.audit = (name, f"set member {who}={body['role']}")
        return JSONResponse({"user": who, "role": body["role"]})

    # --- robots
    async def robots(self, request: Request) -> Response:
        user = await self._user(request)
        name = request.path_params["project"]
        self._project_admin(user, name)
        if request.method == "GET":
            rows = await self._run(self.meta.robots, name)
            return JSONResponse([_robot_json(r) for r in rows])
        body = await self._body(request, "NewRobot")
        row, secret = await self._run(
            create_robot,
            self.meta,
            name,
            body["name"],
            frozenset(body["actions"]),
            body.get("expires_in"),
        )
        request.state.audit = (name, f"add robot {row.name}")
        return JSONResponse({**_robot_json(row), "secret": secret}, 201)

    async def robot(self, request: Request) -> Response:
        user = await self._user(request)
        name, short = request.path_params["project"], request.path_params["robot"]
        self._project_admin(user, name)
        full = short if short.startswith("robot$") else robot_name(name, short)
        row = await self._run(self.meta.robot, full)
        if row is None or row.project != name or not await self._run(self.meta.delete_robot, full):
            raise ApiError(404, "NOT_FOUND", f"robot {full} does not exist")
        request.state.audit = (name, f"delete robot {full}")
        return Response(status_code=204)

    # --- audit log
    async def audit(self, request: Request) -> Response:
        self._admin(await self._user(request))
        q = request.query_params
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            raise ApiError(400, "INVALID", f"limit {q.get('limit')!r} is not a number") from None
        if not 1 <= limit <= 10000:
            raise ApiError(400, "INVALID", "limit must be between 1 and 10000")
        if q.get("result") not in (None, "ok", "refused"):
            raise ApiError(400, "INVALID", "result is ok or refused")

        def query() -> list[Any]:
            return self.meta.audit(
                user=q.get("user"),
                repo=q.get("repository"),
                action=q.get("action"),
                result=q.get("result"),
                limit=limit,
            )

        rows = await self._run(query)
        return JSONResponse([r.__dict__ for r in rows])

    # --- listings
    async def repositories(self, request: Request) -> Response:
        user = await self._user(request, required=False)
        wanted = request.query_params.get("project")
        names = await self._run(self.meta.repositories, None, None)
        visible: dict[str, bool] = {}
        out = []
        for repo in names:
            project = project_of(repo)
            if wanted is not None and project != wanted:
                continue
            if project not in visible:
                row = self.meta.project(project)
                visible[project] = row is not None and (
                    row.public or self.authz.role(user, project) is not None
                )
            if visible[project]:
                out.append(repo)
        return JSONResponse(out)

    async def _repo(self, request: Request) -> str:
        user = await self._user(request, required=False)
        repo = request.query_params.get("repository", "")
        granted = await self._run(
            self.authz.granted, user, Access("repository", repo, frozenset({"pull"}))
        )
        if not repo or not granted.actions or not await self._run(self.meta.repo_exists, repo):
            raise ApiError(404, "NOT_FOUND", f"repository {repo!r} is not known")
        return repo

    async def tags(self, request: Request) -> Response:
        repo = await self._repo(request)
        rows = await self._run(self.meta.tag_list, repo)
        return JSONResponse([{"tag": t, "digest": str(d)} for t, d in rows])

    async def manifests(self, request: Request) -> Response:
        repo = await self._repo(request)
        rows = await self._run(self.meta.manifest_list, repo)
        tags: dict[str, list[str]] = {}
        for t, d in await self._run(self.meta.tag_list, repo):
            tags.setdefault(str(d), []).append(t)
        return JSONResponse(
            [
                {
                    "digest": str(m.digest),
                    "media_type": m.media_type,
                    "size": m.size,
                    "artifact_type": m.artifact_type,
                    "created": created,
                    "tags": tags.get(str(m.digest), []),
                }
                for m, created in rows
            ]
        )

    async def spec(self, request: Request) -> Response:
        return JSONResponse(openapi())

    # --- the wrapper every endpoint goes through
    def wrap(self, fn: _Handler) -> _Handler:
        async def endpoint(request: Request) -> Response:
            try:
                resp = await fn(request)
            except ApiError as err:
                resp = error_response(err)
            except ImageforgeError as exc:
                resp = error_response(from_imageforge(exc))
            user: str | None = getattr(request.state, "user", None)
            project = str(request.path_params.get("project", ""))
            what = f"{request.method} {request.url.path}"
            if resp.status_code in (401, 403, 404):
                # 404 included: to a caller who may not see a project it does not exist
                detail = _message(resp)
                await record(self.meta, request, user, "manage", project, what, "refused", detail)
            elif getattr(request.state, "audit", None):
                where, detail = request.state.audit
                await record(self.meta, request, user, "manage", where, what, "ok", detail)
            return resp

        return endpoint


def _message(resp: Response) -> str:
    try:
        return str(json.loads(bytes(resp.body))["errors"][0]["message"])[:500]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def management_routes(
    meta: MetaStore, authorizer: Authorizer, basic: Callable[[str, str], str]
) -> list[Route]:
    """The ``/api/v1/`` routes; ``basic`` checks a basic Authorization header (and the
    client's address, for the failed-login limit)."""
    m = _Manage(meta, authorizer, basic)
    table: list[tuple[str, _Handler, list[str]]] = [
        ("/api/v1/openapi.json", m.spec, ["GET"]),
        ("/api/v1/users", m.users, ["GET", "POST"]),
        ("/api/v1/users/{user}", m.user, ["DELETE"]),
        ("/api/v1/projects", m.projects, ["GET", "POST"]),
        ("/api/v1/projects/{project}", m.project, ["GET", "DELETE"]),
        ("/api/v1/projects/{project}/members", m.members, ["GET"]),
        ("/api/v1/projects/{project}/members/{user}", m.member, ["PUT", "DELETE"]),
        ("/api/v1/projects/{project}/robots", m.robots, ["GET", "POST"]),
        ("/api/v1/projects/{project}/robots/{robot}", m.robot, ["DELETE"]),
        ("/api/v1/audit", m.audit, ["GET"]),
        ("/api/v1/repositories", m.repositories, ["GET"]),
        ("/api/v1/tags", m.tags, ["GET"]),
        ("/api/v1/manifests", m.manifests, ["GET"]),
    ]
    return [Route(path, m.wrap(fn), methods=methods) for path, fn, methods in table]
