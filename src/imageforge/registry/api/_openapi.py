"""The OpenAPI 3.0 description of ``/api/v1/`` (served at ``/api/v1/openapi.json``) and
the request-body schemas the handlers validate against (jsonschema), so the description
and the behaviour cannot drift apart. Written by hand: the API is small and Starlette
has no schema generator of its own."""

from __future__ import annotations

from typing import Any

from imageforge.registry.api._openapi_scans import SCAN_BODIES, SCAN_OBJECTS, scan_paths
from imageforge.registry.api._spec_replication import (
    REPLICATION_BODIES,
    REPLICATION_OBJECTS,
    replication_paths,
)
from imageforge.registry.api._spec_retention import RETENTION_BODIES, RETENTION_OBJECTS
from imageforge.registry.api._spec_webhooks import WEBHOOK_BODIES, WEBHOOK_OBJECTS
from imageforge.registry.auth import ROBOT_ACTIONS, ROBOT_PATTERN, ROLES
from imageforge.registry.service import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    PROJECT_MAX,
    PROJECT_PATTERN,
    USER_PATTERN,
)

__all__ = ["BODIES", "openapi"]

BODIES: dict[str, dict[str, Any]] = {
    "NewUser": {
        "type": "object",
        "required": ["name", "password"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": USER_PATTERN},
            "password": {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD},
            "admin": {"type": "boolean"},
        },
    },
    "NewProject": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": PROJECT_PATTERN, "maxLength": PROJECT_MAX},
            "public": {"type": "boolean"},
            "immutable_tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "proxy_for": {"type": "string", "description": "upstream URL: a proxy cache"},
            "username": {"type": "string", "description": "the upstream's user"},
            "password": {"type": "string", "description": "the upstream's password"},
        },
    },
    "Member": {
        "type": "object",
        "required": ["role"],
        "additionalProperties": False,
        "properties": {"role": {"type": "string", "enum": list(ROLES)}},
    },
    "NewRobot": {
        "type": "object",
        "required": ["name", "actions"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": ROBOT_PATTERN},
            "actions": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": sorted(ROBOT_ACTIONS)},
            },
            "expires_in": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10 * 365 * 86400,
                "description": "seconds; absent = never expires",
            },
        },
    },
    "SetQuota": {
        "type": "object",
        "required": ["limit"],
        "additionalProperties": False,
        "properties": {
            "limit": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2**63 - 1,
                "description": "bytes the project may store",
            },
            "warn_percent": {"type": "integer", "minimum": 1, "maximum": 100, "default": 80},
        },
    },
}

BODIES.update(SCAN_BODIES)
BODIES.update(RETENTION_BODIES)
BODIES.update(WEBHOOK_BODIES)
BODIES.update(REPLICATION_BODIES)

_OBJECTS: dict[str, dict[str, Any]] = {
    "Quota": {
        "type": "object",
        "required": ["project", "limit", "warn_percent", "used", "blobs", "state"],
        "properties": {
            "project": {"type": "string"},
            "limit": {"type": "integer", "nullable": True},
            "warn_percent": {"type": "integer", "nullable": True},
            "used": {"type": "integer", "description": "bytes, each blob counted once"},
            "blobs": {"type": "integer"},
            "state": {"type": "string", "enum": ["ok", "warning", "exceeded"]},
        },
    },
    "User": {
        "type": "object",
        "required": ["name", "admin"],
        "properties": {"name": {"type": "string"}, "admin": {"type": "boolean"}},
    },
    "Project": {
        "type": "object",
        "required": ["name", "public", "immutable_tags"],
        "properties": {
            "name": {"type": "string"},
            "public": {"type": "boolean"},
            "immutable_tags": {"type": "array", "items": {"type": "string"}},
            "proxy_for": {"type": "string", "description": "a proxy cache's upstream"},
            "username": {"type": ["string", "null"]},
        },
    },
    "MemberRole": {
        "type": "object",
        "required": ["user", "role"],
        "properties": {"user": {"type": "string"}, "role": {"type": "string"}},
    },
    "Robot": {
        "type": "object",
        "required": ["name", "project", "actions", "expires", "created"],
        "properties": {
            "name": {"type": "string"},
            "project": {"type": "string"},
            "actions": {"type": "array", "items": {"type": "string"}},
            "expires": {"type": "number", "nullable": True},
            "created": {"type": "number"},
            "secret": {"type": "string", "description": "only in the answer to POST"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": ["id", "time", "user", "action", "repo", "ref", "result", "remote"],
        "properties": {
            "id": {"type": "integer"},
            "time": {"type": "number"},
            "user": {"type": "string", "nullable": True},
            "action": {"type": "string"},
            "repo": {"type": "string"},
            "ref": {"type": "string"},
            "result": {"type": "string", "enum": ["ok", "refused"]},
            "remote": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "Tag": {
        "type": "object",
        "required": ["tag", "digest"],
        "properties": {"tag": {"type": "string"}, "digest": {"type": "string"}},
    },
    "Manifest": {
        "type": "object",
        "required": ["digest", "media_type", "size", "tags"],
        "properties": {
            "digest": {"type": "string"},
            "media_type": {"type": "string"},
            "size": {"type": "integer"},
            "artifact_type": {"type": "string", "nullable": True},
            "created": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Errors": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            }
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list(name: str) -> dict[str, Any]:
    return _json({"type": "array", "items": _ref(name)}, f"the {name} list")


_ERRORS = {
    code: _json(_ref("Errors"), text)
    for code, text in (
        ("400", "invalid request"),
        ("401", "authentication required"),
        ("403", "not allowed"),
        ("404", "not found"),
        ("409", "already exists, or in the way (a project that holds repositories)"),
        ("413", "request body larger than 1 MiB"),
        ("429", "too many failed logins lately (see Retry-After)"),
    )
}


def _op(
    summary: str,
    ok: dict[str, Any] | None,
    status: str = "200",
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {status: ok or {"description": "done"}, **_ERRORS},
    }
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if params:
        op["parameters"] = params
    return op


def _path(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _retention_paths(project: dict[str, Any]) -> dict[str, Any]:
    run = _path("run", "^[0-9]{1,18}$")
    return {
        "/api/v1/projects/{project}/retention": {
            "get": _op(
                "a project's retention policy",
                _json(_ref("RetentionPolicyOf"), "the policy"),
                params=[project],
            ),
            "put": _op(
                "set a project's retention policy (project admin)",
                _json(_ref("RetentionPolicyOf"), "the policy"),
                body="RetentionPolicy",
                params=[project],
            ),
        },
        "/api/v1/projects/{project}/retention/runs": {
            "get": _op(
                "a project's retention runs, newest first",
                _list("RetentionRunReport"),
                params=[project],
            ),
            "post": _op(
                "run the project's retention policy now (project admin); a dry run lists"
                " what a real run deletes, a real run deletes it and then collects garbage",
                _json(_ref("RetentionRunReport"), "the run"),
                "201",
                "RetentionRun",
                params=[project],
            ),
        },
        "/api/v1/projects/{project}/retention/runs/{run}": {
            "get": _op(
                "one retention run",
                _json(_ref("RetentionRunReport"), "the run"),
                params=[project, run],
            ),
        },
    }


def _webhook_paths(project: dict[str, Any]) -> dict[str, Any]:
    hook = _path("webhook")
    return {
        "/api/v1/projects/{project}/webhooks": {
            "get": _op("a project's webhooks (project admin)", _list("Webhook"), params=[project]),
            "post": _op(
                "add a webhook; the answer holds its secret, shown once (project admin)",
                _json(_ref("Webhook"), "created"),
                "201",
                "NewWebhook",
                params=[project],
            ),
        },
        "/api/v1/projects/{project}/webhooks/{webhook}": {
            "get": _op(
                "one webhook, by name or id (project admin)",
                _json(_ref("Webhook"), "the webhook"),
                params=[project, hook],
            ),
            "delete": _op(
                "delete a webhook; its pending deliveries fail (project admin)",
                None,
                "204",
                params=[project, hook],
            ),
        },
        "/api/v1/projects/{project}/webhooks/{webhook}/deliveries": {
            "get": _op(
                "a webhook's deliveries, newest first, with each attempt's status code",
                _list("WebhookDelivery"),
                params=[project, hook],
            ),
        },
    }


def openapi() -> dict[str, Any]:
    """The whole description as a JSON-able dict."""
    project = _path("project", PROJECT_PATTERN)
    repo = _query("repository", {"type": "string", "minLength": 1}, required=True)
    paths: dict[str, Any] = {
        "/api/v1/users": {
            "get": _op("list users (system admin)", _list("User")),
            "post": _op(
                "create a user (system admin)", _json(_ref("User"), "created"), "201", "NewUser"
            ),
        },
        "/api/v1/users/{user}": {
            "delete": _op("delete a user (system admin)", None, "204", params=[_path("user")]),
        },
        "/api/v1/projects": {
            "get": _op("list the projects the caller can see", _list("Project")),
            "post": _op(
                "create a project (system admin)",
                _json(_ref("Project"), "created"),
                "201",
                "NewProject",
            ),
        },
        "/api/v1/projects/{project}": {
            "get": _op("one project", _json(_ref("Project"), "the project"), params=[project]),
            "delete": _op(
                "delete a project (system admin); one that holds repositories only with"
                " force=true, which deletes them too (never an immutable tag)",
                None,
                "204",
                params=[project, _query("force", {"type": "boolean", "default": False})],
            ),
        },
        "/api/v1/projects/{project}/quota": {
            "get": _op(
                "a project's storage quota and use (its members)",
                _json(_ref("Quota"), "the quota"),
                params=[project],
            ),
            "put": _op(
                "set a project's storage quota (system admin)",
                _json(_ref("Quota"), "the quota"),
                body="SetQuota",
                params=[project],
            ),
            "delete": _op(
                "remove a project's storage quota (system admin)",
                _json(_ref("Quota"), "the project without quota"),
                params=[project],
            ),
        },
        **_retention_paths(project),
        **_webhook_paths(project),
        "/api/v1/projects/{project}/members": {
            "get": _op("a project's members (its members)", _list("MemberRole"), params=[project]),
        },
        "/api/v1/projects/{project}/members/{user}": {
            "put": _op(
                "set a member's role (project admin)",
                _json(_ref("MemberRole"), "the role"),
                body="Member",
                params=[project, _path("user")],
            ),
            "delete": _op(
                "remove a member (project admin)", None, "204", params=[project, _path("user")]
            ),
        },
        "/api/v1/projects/{project}/robots": {
            "get": _op(
                "a project's robot accounts (project admin)", _list("Robot"), params=[project]
            ),
            "post": _op(
                "create a robot account; the answer holds its secret, shown once (project admin)",
                _json(_ref("Robot"), "created"),
                "201",
                "NewRobot",
                params=[project],
            ),
        },
        "/api/v1/projects/{project}/robots/{robot}": {
            "delete": _op(
                "delete a robot account (project admin)",
                None,
                "204",
                params=[project, _path("robot")],
            ),
        },
        "/api/v1/audit": {
            "get": _op(
                "the audit log, newest first (system admin)",
                _list("AuditEntry"),
                params=[
                    _query("user", {"type": "string"}),
                    _query("repository", {"type": "string"}),
                    _query("action", {"type": "string"}),
                    _query("result", {"type": "string", "enum": ["ok", "refused"]}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}),
                ],
            ),
        },
        "/api/v1/repositories": {
            "get": _op(
                "repositories of the projects the caller can see",
                _json({"type": "array", "items": {"type": "string"}}, "repository names"),
                params=[_query("project", {"type": "string"})],
            ),
        },
        "/api/v1/tags": {
            "get": _op("a repository's tags", _list("Tag"), params=[repo]),
        },
        "/api/v1/manifests": {
            "get": _op("a repository's manifests", _list("Manifest"), params=[repo]),
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "imageforge registry management API", "version": "1"},
        "components": {
            "schemas": {
                **BODIES,
                **_OBJECTS,
                **SCAN_OBJECTS,
                **RETENTION_OBJECTS,
                **WEBHOOK_OBJECTS,
                **REPLICATION_OBJECTS,
            },
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"basic": []}],
        "paths": {**paths, **scan_paths(), **replication_paths()},
    }
