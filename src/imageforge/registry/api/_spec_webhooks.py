"""The OpenAPI description of ``/api/v1/projects/{project}/webhooks`` (request bodies
and answers), merged into the one description by ``_openapi``."""

from __future__ import annotations

from typing import Any

from imageforge.registry.events import EVENT_TYPES
from imageforge.registry.webhooks import NAME_PATTERN

__all__ = ["WEBHOOK_BODIES", "WEBHOOK_OBJECTS"]

_EVENTS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"type": "string", "enum": list(EVENT_TYPES)},
}

WEBHOOK_BODIES: dict[str, dict[str, Any]] = {
    "NewWebhook": {
        "type": "object",
        "required": ["name", "url", "events"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN},
            "url": {
                "type": "string",
                "maxLength": 2000,
                "pattern": "^https?://",
                "description": "http:// or https://; loopback and private addresses only"
                " while the registry's webhook_private_targets is true (the default)",
            },
            "events": _EVENTS,
            "secret": {
                "type": "string",
                "minLength": 16,
                "maxLength": 256,
                "description": "the HMAC key; absent: generated and shown once",
            },
        },
    },
}

WEBHOOK_OBJECTS: dict[str, dict[str, Any]] = {
    "Webhook": {
        "type": "object",
        "required": ["id", "project", "name", "url", "events", "enabled", "created"],
        "properties": {
            "id": {"type": "integer"},
            "project": {"type": "string"},
            "name": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "enabled": {"type": "boolean"},
            "created": {"type": "number"},
            "secret": {"type": "string", "description": "only in the answer to POST"},
        },
    },
    "WebhookDelivery": {
        "type": "object",
        "required": ["id", "webhook", "event", "state", "attempts", "status", "log"],
        "properties": {
            "id": {"type": "integer"},
            "webhook": {"type": "integer"},
            "event": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer"},
            "next_attempt": {"type": "number", "nullable": True},
            "status": {"type": "integer", "nullable": True, "description": "the last answer's"},
            "error": {"type": "string"},
            "created": {"type": "number"},
            "log": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "time": {"type": "number"},
                        "status": {"type": "integer", "nullable": True},
                        "error": {"type": "string"},
                    },
                },
            },
        },
    },
}
