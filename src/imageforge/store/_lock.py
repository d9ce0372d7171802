"""Cross-process locks on files (``flock``): shared for writers, exclusive for prune."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from imageforge.errors import Conflict

__all__ = ["FileLock"]

_ATTEMPTS = 1000  # of taking a lock whose file other holders keep removing


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _hold(self, operation: int, blocking: bool, what: str) -> Iterator[None]:
        fd = self._take(operation, blocking, what)
        try:
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _take(self, operation: int, blocking: bool, what: str) -> int:
        """A descriptor of the lock file, locked. A holder may delete the file with its
        directory as it lets go (an ingest does when it finishes): a lock taken on a
        file no longer at the path guards nothing, so it is dropped and taken again on
        the file now there (or on a new one, the directory made again)."""
        for _ in range(_ATTEMPTS):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except (FileNotFoundError, FileExistsError):
                continue  # the directory was being removed as we made or opened it
            try:
                fcntl.flock(fd, operation | (0 if blocking else fcntl.LOCK_NB))
                held = os.fstat(fd)
                try:
                    current = os.stat(self.path)
                except FileNotFoundError:
                    current = None
            except BlockingIOError:
                os.close(fd)
                raise Conflict(
                    f"{what} is in use by another imageforge process ({self.path})",
                    hint="wait for it to finish and try again",
                ) from None
            except BaseException:
                os.close(fd)
                raise
            if current is not None and (current.st_dev, current.st_ino) == (
                held.st_dev,
                held.st_ino,
            ):
                return fd
            os.close(fd)
        raise Conflict(
            f"{what}: its lock file {self.path} keeps being removed by other processes",
            hint="wait for them to finish and try again",
        )

    def shared(
        self, *, blocking: bool = True, what: str = "the store"
    ) -> AbstractContextManager[None]:
        return self._hold(fcntl.LOCK_SH, blocking, what)

    def exclusive(
        self, *, blocking: bool = True, what: str = "the store"
    ) -> AbstractContextManager[None]:
        return self._hold(fcntl.LOCK_EX, blocking, what)
