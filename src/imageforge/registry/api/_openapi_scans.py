"""The scan and pull-policy part of the ``/api/v1/`` description: request bodies the
handlers validate, answers, and the operations (merged into :func:`_openapi.openapi`)."""

from __future__ import annotations

from typing import Any

from imageforge.registry.meta import SEVERITIES

__all__ = ["SCAN_BODIES", "SCAN_OBJECTS", "scan_paths"]

_CVE = {
    "type": "string",
    "minLength": 3,
    "maxLength": 120,
    "pattern": r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9:._-]*$",
}

SCAN_BODIES: dict[str, dict[str, Any]] = {
    "SetPolicy": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "scan_on_push": {"type": "boolean"},
            "prevent_vulnerable": {"type": "boolean"},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "require_signature": {"type": "boolean"},
            "keys": {
                "type": "array",
                "maxItems": 20,
                "items": {"type": "string", "maxLength": 16384},
                "description": "PEM public keys (cosign.pub); replaces the project's keys",
            },
            "required_attestation": {
                "type": "string",
                "maxLength": 200,
                "description": "a predicate type URI or short name; empty: none",
            },
            "refuse_root": {"type": "boolean"},
        },
    },
    "SetAllowlist": {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {
            "items": {
                "type": "array",
                "maxItems": 10000,
                "items": {
                    "type": "object",
                    "required": ["cve"],
                    "additionalProperties": False,
                    "properties": {
                        "cve": _CVE,
                        "expires_at": {
                            "type": "number",
                            "nullable": True,
                            "minimum": 0,
                            "maximum": 1e11,
                            "description": "epoch seconds; absent or null = never",
                        },
                    },
                },
            }
        },
    },
}

SCAN_OBJECTS: dict[str, dict[str, Any]] = {
    "Policy": {
        "type": "object",
        "required": ["project", "scan_on_push", "prevent_vulnerable", "severity"],
        "properties": {
            "project": {"type": "string"},
            "scan_on_push": {"type": "boolean"},
            "prevent_vulnerable": {"type": "boolean"},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "require_signature": {"type": "boolean"},
            "keys": {"type": "array", "items": {"type": "string"}},
            "required_attestation": {"type": "string"},
            "refuse_root": {"type": "boolean"},
        },
    },
    "Allowlist": {
        "type": "object",
        "required": ["project", "items"],
        "properties": {
            "project": {"type": "string", "nullable": True, "description": "null: the registry's"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["cve", "expires", "active"],
                    "properties": {
                        "cve": {"type": "string"},
                        "expires": {"type": "string", "nullable": True},
                        "expires_at": {"type": "number", "nullable": True},
                        "active": {"type": "boolean"},
                    },
                },
            },
        },
    },
    "ScanOverview": {
        "type": "object",
        "required": ["repository", "digest", "scan_status", "severity", "summary"],
        "properties": {
            "repository": {"type": "string"},
            "digest": {"type": "string"},
            "scan_status": {
                "type": "string",
                "enum": ["Not Scanned", "Pending", "Running", "Success", "Error"],
            },
            "severity": {"type": "string", "nullable": True},
            "db_version": {"type": "string"},
            "completed": {"type": "string", "nullable": True},
            "message": {"type": "string"},
            "summary": {"type": "object", "nullable": True},
            "vulnerabilities": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ScanStarted": {
        "type": "object",
        "required": ["repository", "digest", "queued"],
        "properties": {
            "repository": {"type": "string"},
            "digest": {"type": "string"},
            "queued": {"type": "array", "items": {"type": "string"}},
            "db_version": {"type": "string"},
        },
    },
}


def scan_paths() -> dict[str, Any]:
    from imageforge.registry.api._openapi import _json, _op, _path, _ref

    project = _path("project")
    artifact = [project, _path("repository"), _path("digest", r"^[a-z0-9]+:[a-f0-9]{32,}$")]
    return {
        "/api/v1/projects/{project}/policy": {
            "get": _op(
                "a project's scan and pull policy (its members)",
                _json(_ref("Policy"), "the policy"),
                params=[project],
            ),
            "put": _op(
                "change a project's scan and pull policy (project admin); settings left out"
                " keep their values",
                _json(_ref("Policy"), "the policy"),
                body="SetPolicy",
                params=[project],
            ),
        },
        "/api/v1/projects/{project}/allowlist": {
            "get": _op(
                "a project's CVE allowlist (its members)",
                _json(_ref("Allowlist"), "the allowlist"),
                params=[project],
            ),
            "put": _op(
                "replace a project's CVE allowlist (project admin)",
                _json(_ref("Allowlist"), "the allowlist"),
                body="SetAllowlist",
                params=[project],
            ),
        },
        "/api/v1/allowlist": {
            "get": _op(
                "the registry's CVE allowlist, for every project",
                _json(_ref("Allowlist"), "the allowlist"),
            ),
            "put": _op(
                "replace the registry's CVE allowlist (system admin)",
                _json(_ref("Allowlist"), "the allowlist"),
                body="SetAllowlist",
            ),
        },
        "/api/v1/projects/{project}/repositories/{repository}/artifacts/{digest}/scan": {
            "get": _op(
                "the latest scan of a manifest (repository: its name within the project)",
                _json(_ref("ScanOverview"), "the scan overview"),
                params=artifact,
            ),
            "post": _op(
                "scan a manifest (each image of an index) now (who may push to it)",
                _json(_ref("ScanStarted"), "queued"),
                "202",
                params=artifact,
            ),
        },
    }
