"""What happened in the registry, for whoever listens (webhooks, the pull clock of
retention, later the scan worker's results): one :class:`Event` per push, pull, delete,
quota warning or refusal, retention run, scan or replication run, handed to the registry's
:class:`EventSink` with ``emit``. A sink must be quick and must not raise for a failed
delivery (the action it reports has happened)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["EVENT_TYPES", "Event", "EventSink", "Fanout", "NoEvents", "Resource"]

# the event types a webhook may subscribe to, each with Harbor's name for it
EVENT_TYPES = {
    "push": "PUSH_ARTIFACT",
    "pull": "PULL_ARTIFACT",
    "delete": "DELETE_ARTIFACT",
    "quota_warning": "QUOTA_WARNING",
    "quota_exceeded": "QUOTA_EXCEED",
    "retention": "TAG_RETENTION",
    "scan_completed": "SCANNING_COMPLETED",
    "scan_failed": "SCANNING_FAILED",
    "replication": "REPLICATION",
}


@dataclass(frozen=True)
class Resource:
    """One artifact an event is about."""

    digest: str
    tag: str | None = None
    resource_url: str = ""  # host/repository:tag (or @digest), as a client names it


@dataclass(frozen=True)
class Event:
    type: str  # one of EVENT_TYPES
    project: str
    operator: str | None  # who did it; None: anonymous
    repository: str = ""  # project/name; "" for a project-wide event
    resources: Sequence[Resource] = ()
    # more of what happened, by event type (quota numbers, a retention run's summary, a
    # scan's counts); shown under event_data in the payload
    data: dict[str, Any] = field(default_factory=dict)
    occur_at: float = field(default_factory=time.time)


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class NoEvents:
    """Nobody listens."""

    def emit(self, event: Event) -> None:
        pass


class Fanout:
    """Every event to each sink, in order."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)
