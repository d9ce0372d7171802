"""A handle on a running container for another thread: see it start, read its cgroup
and writable layer while it runs, stop it. What ``tune`` needs to drive a container
while a load runs beside it; a run that is given none runs as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ContainerControl", "ContainerGroup"]


class ContainerControl:
    """Filled in by the runtime when the container has started (``started_at``: the
    monotonic time its cgroup sampling began; ``rootfs`` and ``upper``: its root and
    its writable layer's upper directory, when it runs an image). :meth:`stop` ends it
    from any thread: SIGTERM, then SIGKILL after ``grace`` seconds (a pid 1 without a
    SIGTERM handler ignores SIGTERM)."""

    def __init__(self) -> None:
        self._started = threading.Event()
        self._ended = threading.Event()
        self._signal: Callable[[str], None] | None = None
        self._stop_asked = False
        self.started_at: float | None = None
        self.upper: Path | None = None
        self.rootfs: Path | None = None

    def attach(self, signal: Callable[[str], None]) -> None:
        """The runtime's part: the container runs; ``signal(name)`` sends it a signal."""
        self._signal = signal
        self.started_at = time.monotonic()
        self._started.set()
        if self._stop_asked:  # stopped while it was starting
            signal("KILL")

    def ended(self) -> None:
        """The runtime's part: the container's process has exited."""
        self._ended.set()
        self._started.set()

    def running(self) -> bool:
        return self._started.is_set() and not self._ended.is_set()

    def wait_started(self, timeout: float | None = None) -> bool:
        return self._started.wait(timeout)

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def stop(self, grace: float = 3.0) -> None:
        """End the container (idempotent; one still starting is killed as it starts)."""
        self._stop_asked = True
        if self._signal is None or self._ended.is_set():
            return
        self._signal("TERM")
        if not self._ended.wait(grace):
            self._signal("KILL")


class ContainerGroup:
    """The containers of one job (a build's RUN steps, in however many threads): each
    run takes its handle from :meth:`control`; :meth:`stop` kills every one still
    running and any that starts after (a cancelled build starts nothing more). What lets
    Ctrl-C end a build whose steps run in worker threads, which signals never reach."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controls: list[ContainerControl] = []
        self._stopped = False

    def control(self) -> ContainerControl:
        made = ContainerControl()
        with self._lock:
            self._controls = [c for c in self._controls if not c.wait_ended(0)]
            self._controls.append(made)
            stopped = self._stopped
        if stopped:
            made.stop(grace=0)  # killed as it starts
        return made

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            controls = list(self._controls)
        for c in controls:
            c.stop(grace=0)
