"""Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
A crash leaves either the old file or the new one, never half of either."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from imageforge.errors import StorageFull

__all__ = ["NO_SPACE", "atomic_write", "fsync_dir", "storage_full"]

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


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
