"""Cross-process locks on files (``flock``): shared for writers, exclusive for prune."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from imageforge.errors import Conflict

__all__ = ["FileLock"]


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _hold(self, operation: int, blocking: bool, what: str) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, operation | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                raise Conflict(
                    f"{what} is in use by another imageforge process ({self.path})",
                    hint="wait for it to finish and try again",
                ) from None
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def shared(
        self, *, blocking: bool = True, what: str = "the store"
    ) -> AbstractContextManager[None]:
        return self._hold(fcntl.LOCK_SH, blocking, what)

    def exclusive(
        self, *, blocking: bool = True, what: str = "the store"
    ) -> AbstractContextManager[None]:
        return self._hold(fcntl.LOCK_EX, blocking, what)
