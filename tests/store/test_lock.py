"""Cross-process locks whose file a holder removes as it lets go (an ingest's directory
goes when it is committed): whoever was waiting must end up holding the file that is at
the path, or two writers would each think the ingest theirs."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from imageforge.errors import Conflict
from imageforge.store import FileLock


def test_a_waiter_on_a_removed_lock_file_holds_the_one_at_the_path(tmp_path: Path) -> None:
    directory = tmp_path / "ingest" / "abc"
    lock = FileLock(directory / "lock")
    first = lock.exclusive()
    first.__enter__()
    taken = threading.Event()
    release = threading.Event()

    def waiter() -> None:
        with lock.exclusive():  # blocks until the first holder lets go
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=waiter)
    thread.start()
    try:
        assert not taken.wait(0.3)  # really waiting
        shutil.rmtree(directory)  # the holder removes its directory, lock file and all...
        first.__exit__(None, None, None)  # ... and lets go
        assert taken.wait(10)
        assert (directory / "lock").exists()  # the waiter holds the file at the path
        with pytest.raises(Conflict), lock.exclusive(blocking=False, what="ingest 'abc'"):
            pass
    finally:
        release.set()
        thread.join(30)
    with lock.exclusive(blocking=False):  # and it is free again once the waiter is done
        pass
