"""The OpenAPI description of ``/api/v1/replication`` (request bodies, answers and the
operations), merged into the one description by ``_openapi``."""

from __future__ import annotations

from typing import Any

from imageforge.registry.replication import DIRECTIONS, NAME_PATTERN, TRIGGERS

__all__ = ["REPLICATION_BODIES", "REPLICATION_OBJECTS", "replication_paths"]

_GLOBS = {"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1}}
_RULE_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "pattern": NAME_PATTERN},
    "direction": {
        "type": "string",
        "enum": list(DIRECTIONS),
        "description": "push (default): images of this registry copied to the endpoint;"
        " pull: images of the endpoint (its /v2/_catalog, or the repositories named"
        " literally when it has none) fetched into this registry, stored as pushes are;"
        " a pull rule's trigger is manual or cron",
    },
    "repositories": {**_GLOBS, "description": "project/name globs ('**' crosses '/')"},
    "exclude_repositories": _GLOBS,
    "tags": _GLOBS,
    "exclude_tags": _GLOBS,
    "labels": {**_GLOBS, "description": "KEY or KEY=VALUE, all in the image config's labels"},
    "trigger": {"type": "string", "enum": list(TRIGGERS)},
    "cron": {"type": "string", "maxLength": 200, "description": "with trigger cron"},
    "destination_namespace": {
        "type": "string",
        "maxLength": 255,
        "description": "replaces a repository's first component where it is written"
        " (at the endpoint; pulling, here)",
    },
    "mirror_deletions": {"type": "boolean"},
    "bandwidth": {"type": "integer", "minimum": 0, "maximum": 2**40, "description": "bytes/s"},
    "enabled": {"type": "boolean"},
}

_ENDPOINT_PROPERTIES: dict[str, Any] = {
    "url": {"type": "string", "maxLength": 2000, "pattern": "^https?://"},
    "username": {"type": "string", "maxLength": 255},
    "password": {"type": "string", "maxLength": 4096},
    "insecure": {"type": "boolean"},
}

REPLICATION_BODIES: dict[str, dict[str, Any]] = {
    "NewReplicationRule": {
        "type": "object",
        "required": ["name", "endpoint"],
        "additionalProperties": False,
        "properties": {
            **_RULE_PROPERTIES,
            "endpoint": {
                "oneOf": [
                    {
                        "type": "string",
                        "pattern": NAME_PATTERN,
                        "description": "the name of an endpoint (/api/v1/replication/endpoints)",
                    },
                    {
                        "type": "object",
                        "required": ["url"],
                        "additionalProperties": False,
                        "properties": _ENDPOINT_PROPERTIES,
                    },
                ]
            },
        },
    },
    "NewReplicationEndpoint": {
        "type": "object",
        "required": ["name", "url"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN},
            **_ENDPOINT_PROPERTIES,
            "replace": {"type": "boolean", "description": "replace the endpoint of that name"},
        },
    },
    "ReplicationRun": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "wait": {"type": "boolean", "description": "answer when the run has finished"}
        },
    },
}

_ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["copy", "delete"]},
        "repository": {"type": "string", "description": "where the image is read"},
        "tag": {"type": "string"},
        "digest": {"type": "string"},
        "destination": {
            "type": "string",
            "description": "where it is written: at the endpoint, or (pulling) here",
        },
        "status": {"type": "string", "enum": ["pending", "done", "failed"]},
        "bytes": {"type": "integer"},
        "blobs": {"type": "integer"},
        "attempts": {"type": "integer"},
        "error": {"type": "string"},
    },
}

_ENDPOINT = {
    "type": "object",
    "description": "never the password",
    "properties": {
        "name": {"type": "string", "description": "a named endpoint's"},
        "url": {"type": "string"},
        "username": {"type": "string"},
        "insecure": {"type": "boolean"},
        "has_password": {"type": "boolean"},
    },
}

REPLICATION_OBJECTS: dict[str, dict[str, Any]] = {
    "ReplicationEndpoint": _ENDPOINT,
    "ReplicationRule": {
        "type": "object",
        "required": ["name", "endpoint", "direction", "trigger", "enabled"],
        "properties": {
            **_RULE_PROPERTIES,
            "endpoint": _ENDPOINT,
        },
    },
    "ReplicationRunReport": {
        "type": "object",
        "required": ["id", "rule", "trigger", "status", "total"],
        "properties": {
            "id": {"type": "integer"},
            "rule": {"type": "string"},
            "trigger": {"type": "string", "enum": list(TRIGGERS)},
            "started": {"type": "number"},
            "finished": {"type": "number", "nullable": True},
            "status": {
                "type": "string",
                "enum": ["running", "done", "failed", "interrupted"],
                "description": "interrupted: its process stopped; a later run continued it",
            },
            "error": {"type": "string"},
            "total": {"type": "integer"},
            "pending": {"type": "integer"},
            "done": {"type": "integer"},
            "failed": {"type": "integer"},
            "bytes": {"type": "integer", "description": "blob bytes sent (pulling: fetched)"},
            "blobs": {
                "type": "integer",
                "description": "blobs sent or fetched (not those already there)",
            },
            "items": {"type": "array", "items": _ITEM},
        },
    },
}


def replication_paths() -> dict[str, Any]:
    from imageforge.registry.api._openapi import _json, _list, _op, _path, _query, _ref

    rule = _path("rule", NAME_PATTERN)
    endpoint = _path("endpoint", NAME_PATTERN)
    base = "/api/v1/replication"
    return {
        f"{base}/endpoints": {
            "get": _op("the named endpoints (system admin)", _list("ReplicationEndpoint")),
            "post": _op(
                "add a named endpoint (system admin); its password is sealed with the"
                " registry's secret key and never shown",
                _json(_ref("ReplicationEndpoint"), "created"),
                "201",
                "NewReplicationEndpoint",
            ),
        },
        f"{base}/endpoints/{{endpoint}}": {
            "get": _op(
                "one named endpoint (system admin)",
                _json(_ref("ReplicationEndpoint"), "the endpoint"),
                params=[endpoint],
            ),
            "delete": _op(
                "delete a named endpoint (system admin); 409 while a rule uses it",
                None,
                "204",
                params=[endpoint],
            ),
        },
        f"{base}/rules": {
            "get": _op("the replication rules (system admin)", _list("ReplicationRule")),
            "post": _op(
                "add a replication rule (system admin)",
                _json(_ref("ReplicationRule"), "created"),
                "201",
                "NewReplicationRule",
            ),
        },
        f"{base}/rules/{{rule}}": {
            "get": _op(
                "one replication rule (system admin)",
                _json(_ref("ReplicationRule"), "the rule"),
                params=[rule],
            ),
            "delete": _op("delete a replication rule (system admin)", None, "204", params=[rule]),
        },
        f"{base}/rules/{{rule}}/runs": {
            "get": _op(
                "a rule's runs, newest first, with their items (system admin)",
                _list("ReplicationRunReport"),
                params=[rule, _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
            ),
            "post": _op(
                "run a rule now (system admin): 202 with the planned run, or 201 with the"
                " finished run when wait is true",
                _json(_ref("ReplicationRunReport"), "the run"),
                "202",
                "ReplicationRun",
                params=[rule],
            ),
        },
        f"{base}/runs/{{run}}": {
            "get": _op(
                "one replication run with each item's state, bytes and error (system admin)",
                _json(_ref("ReplicationRunReport"), "the run"),
                params=[_path("run", "^[0-9]{1,18}$")],
            ),
        },
    }
