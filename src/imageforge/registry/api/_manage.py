"""The management API under ``/api/v1/`` over HTTP: JSON in and out, request bodies
checked against the schemas the OpenAPI description publishes, then handed to the
management service (which decides who may do what). HTTP basic auth (users, not
robots); read-only listings of public projects are open to anonymous callers. Request
bodies larger than 1 MiB are refused (413) before they are read whole. Every refusal
(401, 403, 429 and the 404s that hide what a caller may not see) and every change is
audited."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imageforge.errors import Conflict, Denied, ImageforgeError, InvalidArgument, Unauthorized
from imageforge.oci import load_json
from imageforge.registry.api._audit import record, remote_of
from imageforge.registry.api._auth import basic_credentials, claimed_user
from imageforge.registry.api._errors import ApiError, error_response, http_error
from imageforge.registry.api._io import read_body, run
from imageforge.registry.api._openapi import BODIES, openapi
from imageforge.registry.auth import is_robot
from imageforge.registry.meta import RobotRow
from imageforge.registry.proxy import add_project, projects_changed, upstream_spec
from imageforge.registry.service import RegistryState

__all__ = ["MAX_BODY", "Manage", "management_routes"]

_Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 1 << 20  # bytes of a management request's body
_VALIDATORS = {name: jsonschema.Draft7Validator(schema) for name, schema in BODIES.items()}
_BASIC = {"WWW-Authenticate": 'Basic realm="imageforge"'}


def _robot_json(row: RobotRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "project": row.project,
        "actions": sorted(row.actions),
        "expires": row.expires,
        "created": row.created,
    }


def _too_large() -> ApiError:
    return ApiError(413, "TOO_LARGE", f"request body is larger than {MAX_BODY} bytes (the limit)")


class _Manage:
    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.svc = state.manage

    # --- request parsing
    async def _user(self, request: Request, required: bool = True) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            if required:
                raise http_error(
                    Unauthorized("authentication required"), manage=True, headers=_BASIC
                )
            return None
        request.state.user = claimed_user(header)
        try:
            user, password = basic_credentials(header)
            await run(self.state.access.login, user, password, remote_of(request))
        except Unauthorized as exc:
            raise http_error(exc, manage=True, headers=_BASIC) from None
        if is_robot(user):
            raise Denied("robot accounts cannot use the management API")
        return user

    async def _body(self, request: Request, schema: str) -> dict[str, Any]:
        raw = await read_body(request, MAX_BODY, _too_large)
        # oci's reader: malformed JSON, and JSON too deep for Python's parser or the
        # schema check (a RecursionError, a 500), are an InvalidArgument naming why
        try:
            doc = load_json(raw, "body")
        except InvalidArgument as exc:  # in the API's words: "body is not JSON: ..."
            message = exc.message.replace("body is not valid JSON", "body is not JSON", 1)
            raise InvalidArgument(message, hint=exc.hint) from None
        errors = sorted(_VALIDATORS[schema].iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "body"
            raise InvalidArgument(f"{where}: {errors[0].message}")
        assert isinstance(doc, dict)
        return doc

    # --- users
    async def users(self, request: Request) -> Response:
        user = await self._user(request)
        if request.method == "GET":
            return JSONResponse(await run(self.svc.users, user))
        await run(self.svc.require_admin, user)  # who may, before what the body says
        body = await self._body(request, "NewUser")
        name, admin = body["name"], bool(body.get("admin"))
        await run(self.svc.add_user, user, name, body["password"], admin)
        request.state.audit = ("", f"add user {name}")
        return JSONResponse({"name": name, "admin": admin}, 201)

    async def user(self, request: Request) -> Response:
        user = await self._user(request)
        name = request.path_params["user"]
        await run(self.svc.delete_user, user, name)
        request.state.audit = ("", f"delete user {name}")
        return Response(status_code=204)

    # --- projects
    async def projects(self, request: Request) -> Response:
        if request.method == "GET":
            user = await self._user(request, required=False)
            return JSONResponse(await run(self.svc.projects, user))
        user = await self._user(request)
        await run(self.svc.require_admin, user)
        body = await self._body(request, "NewProject")
        name = body["name"]
        upstream = upstream_spec(body.get("proxy_for"), body.get("username"), body.get("password"))
        created = await run(
            add_project,
            self.svc,
            user,
            name,
            bool(body.get("public")),
            body.get("immutable_tags"),
            upstream,
            self.state.secrets,
        )
        request.state.audit = (name, "add project")
        return JSONResponse(created, 201)

    async def project(self, request: Request) -> Response:
        name = request.path_params["project"]
        if request.method == "GET":
            user = await self._user(request, required=False)
            return JSONResponse(await run(self.svc.project, user, name))
        user = await self._user(request)
        await run(self.svc.require_admin, user)
        force = request.query_params.get("force", "false").lower()
        if force not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"force={force!r} is not true or false")
        try:
            deleted = await run(self.svc.delete_project, user, name, force in ("true", "1"))
            projects_changed()  # it may have been a proxy cache
        except (Conflict, Denied) as exc:
            # the hint, in the API's words
            hint = exc.hint.replace("--force (API: ?force=true)", "?force=true") if exc.hint else ""
            raise type(exc)(f"{exc.message}; {hint}" if hint else exc.message) from None
        detail = "delete project" + (f" and its {len(deleted)} repositories" if deleted else "")
        request.state.audit = (name, detail)
        return Response(status_code=204)

    # --- quota
    async def quota(self, request: Request) -> Response:
        name = request.path_params["project"]
        if request.method == "GET":
            user = await self._user(request, required=False)
            return JSONResponse(await run(self.svc.quota, user, name))
        user = await self._user(request)
        await run(self.svc.require_admin, user)
        if request.method == "DELETE":
            doc = await run(self.svc.set_quota, user, name, None)
            request.state.audit = (name, "remove quota")
            return JSONResponse(doc)
        body = await self._body(request, "SetQuota")
        doc = await run(self.svc.set_quota, user, name, body["limit"], body.get("warn_percent", 80))
        request.state.audit = (name, f"set quota {body['limit']} bytes")
        return JSONResponse(doc)

    # --- members
    async def members(self, request: Request) -> Response:
        user = await self._user(request)
        rows = await run(self.svc.members, user, request.path_params["project"])
        return JSONResponse([{"user": u, "role": r} for u, r in rows])

    async def member(self, request: Request) -> Response:
        user = await self._user(request)
        name, who = request.path_params["project"], request.path_params["user"]
        if request.method == "DELETE":
            await run(self.svc.remove_member, user, name, who)
            request.state.audit = (name, f"remove member {who}")
            return Response(status_code=204)
        await run(self.svc.require_project_admin, user, name)
        body = await self._body(request, "Member")
        await run(self.svc.set_member, user, name, who, body["role"])
        request.state.audit = (name, f"set member {who}={body['role']}")
        return JSONResponse({"user": who, "role": body["role"]})

    # --- robots
    async def robots(self, request: Request) -> Response:
        user = await self._user(request)
        name = request.path_params["project"]
        if request.method == "GET":
            return JSONResponse([_robot_json(r) for r in await run(self.svc.robots, user, name)])
        await run(self.svc.require_project_admin, user, name)
        body = await self._body(request, "NewRobot")
        row, secret = await run(
            self.svc.add_robot,
            user,
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
        full = await run(self.svc.delete_robot, user, name, short)
        request.state.audit = (name, f"delete robot {full}")
        return Response(status_code=204)

    # --- audit log
    async def audit(self, request: Request) -> Response:
        user = await self._user(request)
        await run(self.svc.require_admin, user)
        q = request.query_params
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            raise InvalidArgument(f"limit {q.get('limit')!r} is not a number") from None
        if not 1 <= limit <= 10000:
            raise InvalidArgument("limit must be between 1 and 10000")

        def query() -> list[Any]:
            return self.svc.audit(
                user,
                user=q.get("user"),
                repo=q.get("repository"),
                action=q.get("action"),
                result=q.get("result"),
                limit=limit,
            )

        return JSONResponse([r.__dict__ for r in await run(query)])

    # --- listings
    async def repositories(self, request: Request) -> Response:
        user = await self._user(request, required=False)
        wanted = request.query_params.get("project")
        return JSONResponse(await run(self.svc.repositories, user, wanted))

    async def tags(self, request: Request) -> Response:
        user = await self._user(request, required=False)
        repo = request.query_params.get("repository", "")
        rows = await run(self.svc.tags, user, repo)
        return JSONResponse([{"tag": t, "digest": str(d)} for t, d in rows])

    async def manifests(self, request: Request) -> Response:
        user = await self._user(request, required=False)
        repo = request.query_params.get("repository", "")
        rows = await run(self.svc.manifests, user, repo)
        return JSONResponse(
            [
                {
                    "digest": str(m.digest),
                    "media_type": m.media_type,
                    "size": m.size,
                    "artifact_type": m.artifact_type,
                    "created": created,
                    "tags": tags,
                }
                for m, created, tags in rows
            ]
        )

    async def spec(self, request: Request) -> Response:
        return JSONResponse(openapi())

    # for the route modules of other parts (retention, webhooks): the same parsing
    authenticated = _user
    json_body = _body

    # --- the wrapper every endpoint goes through
    def wrap(self, fn: _Handler) -> _Handler:
        async def endpoint(request: Request) -> Response:
            try:
                resp = await fn(request)
            except ApiError as err:
                resp = error_response(err)
            except ImageforgeError as exc:
                resp = error_response(exc, manage=True)
            user: str | None = getattr(request.state, "user", None)
            project = str(request.path_params.get("project", ""))
            what = f"{request.method} {request.url.path}"
            meta = self.state.meta
            if resp.status_code in (401, 403, 404):
                # 404 included: to a caller who may not see a project it does not exist
                detail = _message(resp)
                await record(meta, request, user, "manage", project, what, "refused", detail)
            elif getattr(request.state, "audit", None):
                where, detail = request.state.audit
                await record(meta, request, user, "manage", where, what, "ok", detail)
            return resp

        return endpoint


Manage = _Manage  # the parsing, authentication and audit every /api/v1 route shares


def _message(resp: Response) -> str:
    try:
        return str(json.loads(bytes(resp.body))["errors"][0]["message"])[:500]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def management_routes(state: RegistryState) -> list[Route]:
    """The ``/api/v1/`` routes."""
    m = _Manage(state)
    table: list[tuple[str, _Handler, list[str]]] = [
        ("/api/v1/openapi.json", m.spec, ["GET"]),
        ("/api/v1/users", m.users, ["GET", "POST"]),
        ("/api/v1/users/{user}", m.user, ["DELETE"]),
        ("/api/v1/projects", m.projects, ["GET", "POST"]),
        ("/api/v1/projects/{project}", m.project, ["GET", "DELETE"]),
        ("/api/v1/projects/{project}/quota", m.quota, ["GET", "PUT", "DELETE"]),
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
