"""Webhooks per project (Harbor's): the events a project's webhooks subscribe to are
posted as JSON in Harbor's shape with an HMAC-SHA256 signature, from pending rows in
the metadata database (so they survive a restart), retried with exponential backoff,
each attempt kept in a delivery log with its status code. ``Webhooks.emit`` is the
sink every event goes through (``state.events``)."""

from imageforge.registry.webhooks._deliver import Deliverer, sign
from imageforge.registry.webhooks._hooks import (
    NAME_PATTERN,
    ProjectAccess,
    Webhooks,
    check_target,
    payload,
)
from imageforge.registry.webhooks._store import DeliveryRow, HookRow, WebhookStore

__all__ = [
    "NAME_PATTERN",
    "Deliverer",
    "DeliveryRow",
    "HookRow",
    "ProjectAccess",
    "WebhookStore",
    "Webhooks",
    "check_target",
    "payload",
    "sign",
]
