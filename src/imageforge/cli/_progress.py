"""Renders a :class:`~imageforge.progress.ProgressSink` for people: rich progress bars on
a terminal (``_progress_rich``, imported only when bars are shown: rich costs a short
command a large share of its start), plain timestamped lines otherwise (CI logs,
pipes), nothing when quiet."""

from __future__ import annotations

import enum
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

import click

from imageforge.oci import rfc3339
from imageforge.progress import NULL_PROGRESS, ProgressSink

__all__ = [
    "JsonProgress",
    "PlainProgress",
    "ProgressMode",
    "progress_option",
    "progress_sink",
]

F = TypeVar("F", bound=Callable[..., Any])


class ProgressMode(enum.StrEnum):
    AUTO = "auto"
    TTY = "tty"
    PLAIN = "plain"
    QUIET = "quiet"
    JSON = "json"


def progress_option(func: F) -> F:
    """``--progress auto|tty|plain|json|quiet``, as BuildKit spells it."""
    return click.option(
        "--progress",
        type=click.Choice([m.value for m in ProgressMode]),
        default=ProgressMode.AUTO.value,
        show_default=True,
        callback=lambda _ctx, _param, value: ProgressMode(value),
        help="Progress on stderr: bars on a terminal (auto), plain lines, JSON lines "
        "(one event object per line), or nothing.",
    )(func)


def _human(n: float, unit: str) -> str:
    if unit != "bytes":
        return f"{int(n)}{(' ' + unit) if unit else ''}"
    for suffix in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or suffix == "GiB":
            return f"{n:.0f} {suffix}" if suffix == "B" else f"{n:.1f} {suffix}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - loop always returns


def _amount(done: float, total: float | None, unit: str) -> str:
    """``3/11 checks`` or ``12.0 MiB/40.0 MiB``."""
    if unit == "bytes":
        d = _human(done, unit)
        return d if total is None else f"{d}/{_human(total, unit)}"
    of = "" if total is None else f"/{int(total)}"
    return f"{int(done)}{of} {unit}".rstrip()


@dataclass
class _Task:
    description: str
    total: int | None
    unit: str
    started: float
    completed: int = 0
    last_quarter: int = 0


class PlainProgress:
    """One timestamped line per start, per quarter of a known total, per end and note."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}

    def _emit(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(f"{rfc3339(digits=3)} {text}\n")
        stream.flush()

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        with self._lock:
            self._tasks[key] = _Task(description, total, unit, time.monotonic())
            size = f" ({_human(total, unit)})" if total is not None else ""
            self._emit(f"{description}{size}")

    def advance(self, key: str, amount: int = 1) -> None:
        with self._lock:
            task = self._tasks.get(key)
            if task is None:
                return
            task.completed += amount
            if not task.total:
                return
            quarter = min(4, task.completed * 4 // task.total)
            if 0 < quarter < 4 and quarter > task.last_quarter:
                task.last_quarter = quarter
                shown = _amount(task.completed, task.total, task.unit)
                self._emit(f"{task.description}: {quarter * 25}% ({shown})")

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        with self._lock:
            task = self._tasks.pop(key, None)
            desc = task.description if task else key
            took = f" in {time.monotonic() - task.started:.1f}s" if task else ""
            state = "FAILED" if failed else "done"
            self._emit(f"{desc}: {state}{took}" + (f": {message}" if message else ""))

    def note(self, message: str) -> None:
        with self._lock:
            self._emit(message)


class JsonProgress:
    """One JSON object per event on the stream: ``{"time", "event", "key", ...}``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr

    def _emit(self, event: str, **fields: object) -> None:
        record = {"time": datetime.now(UTC).isoformat(), "event": event, **fields}
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        self._emit("start", key=key, description=description, total=total, unit=unit)

    def advance(self, key: str, amount: int = 1) -> None:
        self._emit("advance", key=key, amount=amount)

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        self._emit("done", key=key, message=message, failed=failed)

    def note(self, message: str) -> None:
        self._emit("note", message=message)


@contextmanager
def progress_sink(mode: ProgressMode, *, stream: TextIO | None = None) -> Iterator[ProgressSink]:
    """The sink for ``mode``; AUTO means bars on a terminal, plain lines otherwise."""
    target = stream or sys.stderr
    if mode is ProgressMode.QUIET:
        yield NULL_PROGRESS
        return
    if mode is ProgressMode.AUTO:
        mode = ProgressMode.TTY if target.isatty() else ProgressMode.PLAIN
    if mode is ProgressMode.PLAIN:
        yield PlainProgress(stream)
        return
    if mode is ProgressMode.JSON:
        yield JsonProgress(stream)
        return
    from rich.console import Console

    from imageforge.cli._progress_rich import RichProgress

    rich_progress = RichProgress(Console(file=target, force_terminal=True, emoji=False))
    with rich_progress.live() as sink:
        yield sink
