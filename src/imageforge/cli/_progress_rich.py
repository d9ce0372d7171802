"""Live rich progress bars on a terminal: the TTY form of ``--progress``, imported only
when bars are shown (see :func:`imageforge.cli._progress.progress_sink`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from imageforge.cli._progress import _amount

__all__ = ["RichProgress"]


class _AmountColumn(ProgressColumn):
    """``3/7 checks`` or ``12.0 MiB/40.0 MiB``, by the task's unit."""

    def render(self, task: Task) -> Text:
        return Text(_amount(task.completed, task.total, str(task.fields.get("unit", ""))))


class RichProgress:
    """Live rich progress bars on stderr; call inside its ``live()`` context."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _AmountColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True, emoji=False),
            transient=False,
        )
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def live(self) -> Iterator[RichProgress]:
        with self._progress:
            yield self

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        with self._lock:
            self._tasks[key] = self._progress.add_task(description, total=total, unit=unit)

    def advance(self, key: str, amount: int = 1) -> None:
        with self._lock:
            task = self._tasks.get(key)
        if task is not None:
            self._progress.advance(task, amount)

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        with self._lock:
            task = self._tasks.pop(key, None)
        if task is None:
            return
        total = self._progress.tasks[self._progress.task_ids.index(task)].total
        self._progress.update(task, completed=total if total is not None else 1, total=total or 1)
        if failed or message:
            mark = "[red]failed[/red]" if failed else ""
            self._progress.console.print(f"{mark} {message or ''}".strip())

    def note(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False)
