"""Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
A crash leaves either the old file or the new one, never half of either.

``start_writeback`` lets a writer of a large file hand its pages to the disk while it is
still writing (``sync_file_range``), so the fsync before the rename waits for the last
few MiB instead of the whole file; durability still comes from that fsync."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from imageforge.errors import StorageFull

__all__ = ["NO_SPACE", "atomic_write", "fsync_dir", "start_writeback", "storage_full"]

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writing dirty pages, do not wait


@cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (Python 3.11's ``os`` has none); None where the C
    library has no such call."""
    import ctypes  # only for a writer of large files

    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes of ``fd`` from ``offset`` to disk
    now, without waiting for it. Only a hint: an fsync still makes the data durable, and
    where the call is missing or fails the fsync simply has more left to do."""
    call = _sync_file_range()
    if call is not None:
        call(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def storage_full(where: Path, what: str) -> StorageFull:
    """The error for a write under ``where`` that found its filesystem full; ``what``
    names what was being written. Call it after releasing what was written."""
    try:
        free = f"{shutil.disk_usage(where).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    return StorageFull(
        f"no space left on device under {where} while writing {what} ({free}); "
        "what was written is released",
        hint="free space (imageforge prune, imageforge rmi) or write to a larger "
        "filesystem (--root for the store)",
    )


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, sync_dir: bool = True) -> None:
    """``sync_dir=False`` leaves the directory's fsync to the caller, who writes more
    files into the same directory and fsyncs it once after the last rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in NO_SPACE:
            raise storage_full(path.parent, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)
