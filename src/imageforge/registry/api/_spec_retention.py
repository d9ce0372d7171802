"""The OpenAPI description of ``/api/v1/projects/{project}/retention`` (request bodies
and answers), merged into the one description by ``_openapi``."""

from __future__ import annotations

from typing import Any

from imageforge.registry.retention import KEEP_KINDS

__all__ = ["RETENTION_BODIES", "RETENTION_OBJECTS"]

_GLOBS = {"type": "array", "items": {"type": "string", "minLength": 1}}

RETENTION_BODIES: dict[str, dict[str, Any]] = {
    "RetentionPolicy": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "rules": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "required": ["keep"],
                    "additionalProperties": False,
                    "properties": {
                        "keep": {"type": "string", "enum": list(KEEP_KINDS)},
                        "count": {"type": "integer", "minimum": 0, "maximum": 2**31},
                        "days": {"type": "number", "minimum": 0, "maximum": 100000},
                        "repositories": _GLOBS,
                        "exclude_repositories": _GLOBS,
                        "tags": _GLOBS,
                        "exclude_tags": _GLOBS,
                        "untagged": {"type": "boolean"},
                    },
                },
            },
            "schedule": {
                "type": "string",
                "nullable": True,
                "description": "cron: minute hour day month weekday (UTC); null: none",
            },
            "gc_grace": {
                "type": "number",
                "minimum": 0,
                "maximum": 10 * 365 * 86400,
                "description": "seconds: the grace period of the gc after a real run",
            },
        },
    },
    "RetentionRun": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"dry_run": {"type": "boolean", "default": False}},
    },
}

_ARTIFACT = {
    "type": "object",
    "required": ["repository", "digest", "tags", "size", "pushed", "pulled"],
    "properties": {
        "repository": {"type": "string"},
        "digest": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "size": {"type": "integer"},
        "pushed": {"type": "number"},
        "pulled": {"type": "number", "nullable": True},
        "reason": {"type": "string", "description": "kept: the gate's refusal"},
    },
}

RETENTION_OBJECTS: dict[str, dict[str, Any]] = {
    "RetentionPolicyOf": {
        "type": "object",
        "required": ["project", "rules", "schedule", "gc_grace"],
        "properties": {
            "project": {"type": "string"},
            **RETENTION_BODIES["RetentionPolicy"]["properties"],
        },
    },
    "RetentionRunReport": {
        "type": "object",
        "required": ["id", "project", "started", "dry_run", "trigger", "status"],
        "properties": {
            "id": {"type": "integer"},
            "project": {"type": "string"},
            "started": {"type": "number"},
            "finished": {"type": "number", "nullable": True},
            "dry_run": {"type": "boolean"},
            "trigger": {"type": "string", "enum": ["manual", "schedule"]},
            "status": {"type": "string", "enum": ["running", "done", "failed"]},
            "rules": {"type": "array", "items": {"type": "string"}},
            "retained": {"type": "integer"},
            "deleted": {"type": "array", "items": _ARTIFACT},
            "kept": {"type": "array", "items": _ARTIFACT, "description": "kept by a gate"},
            "gc": {"type": "object", "nullable": True},
            "error": {"type": "string"},
        },
    },
}
