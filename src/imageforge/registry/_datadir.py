"""The data directory is private to the user the registry runs as: the directory and
every directory in it ``0700``, files ``0600`` (blobs ``0400``), the token signing key
in its own ``0600`` file. A data directory made by an earlier version (``0755``, files
readable by everyone) is tightened at start, with a line saying so."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from imageforge.errors import InvalidArgument

__all__ = ["secure_data_dir"]


def _tighten(top: Path) -> int:
    """Take group and other permissions off everything under ``top``; how many changed."""
    changed = 0
    for directory, dirs, files in os.walk(top):
        for name in [".", *dirs, *files]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = stat.S_IMODE(st.st_mode)
            want = mode & 0o700
            if stat.S_ISDIR(st.st_mode):
                want |= 0o700
            if want != mode:
                os.chmod(path, want)
                changed += 1
    return changed


def secure_data_dir(path: Path, announce: Callable[[str], None]) -> None:
    """Create ``path`` (0700) or restrict an existing one to its owner."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            changed = _tighten(path)
            announce(
                f"{path} was open to other users; restricted it and {changed - 1} files and"
                " directories in it to their owner (directories 0700, files 0600, blobs 0400)"
            )
    except PermissionError as exc:
        raise InvalidArgument(
            f"cannot make the registry's data directory {path} private: {exc.strerror}",
            hint="run the registry as the owner of its data directory",
        ) from None
