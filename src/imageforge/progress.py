"""How library code reports progress on long work without knowing who is watching.

Library functions take a :class:`ProgressSink` and call ``start`` / ``advance`` /
``done`` on named tasks (a layer upload, a build step); ``note`` carries one-off
lines such as "runtime: runc". The CLI turns a sink into rich progress bars on a
terminal and timestamped plain lines otherwise; tests record events with
:class:`RecordingProgress`. Sinks must accept calls from several threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "NULL_PROGRESS",
    "NullProgress",
    "ProgressEvent",
    "ProgressSink",
    "RecordingProgress",
]


@runtime_checkable
class ProgressSink(Protocol):
    """Receiver of progress reports. ``key`` names one task; ``total`` is in ``unit``s."""

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        """A task begins; ``total`` is None when its size is unknown."""

    def advance(self, key: str, amount: int = 1) -> None:
        """``amount`` more units of the task are done."""

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        """The task ended, successfully unless ``failed``."""

    def note(self, message: str) -> None:
        """A standalone line worth showing (a choice made, a cache hit)."""


class NullProgress:
    """Discards everything: the default when nobody watches."""

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        return None

    def advance(self, key: str, amount: int = 1) -> None:
        return None

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        return None

    def note(self, message: str) -> None:
        return None


NULL_PROGRESS: ProgressSink = NullProgress()


@dataclass(frozen=True)
class ProgressEvent:
    """One call made on a :class:`RecordingProgress`."""

    kind: str  # "start" | "advance" | "done" | "note"
    key: str
    text: str | None = None
    amount: int | None = None
    failed: bool = False


class RecordingProgress:
    """Keeps every event, in order; for tests and for replaying into another sink."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[ProgressEvent] = []

    def _add(self, event: ProgressEvent) -> None:
        with self._lock:
            self.events.append(event)

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        self._add(ProgressEvent("start", key, description, total))

    def advance(self, key: str, amount: int = 1) -> None:
        self._add(ProgressEvent("advance", key, None, amount))

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        self._add(ProgressEvent("done", key, message, None, failed))

    def note(self, message: str) -> None:
        self._add(ProgressEvent("note", "", message))
