"""A registry key in a file of its own: 64 hex digits, mode 0600, created atomically (the
first process's key wins when several start at once), never a symlink, made private
again if it was readable by others. The token signing key and the secret key that seals
stored passwords are such files."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from imageforge.errors import InvalidArgument, Location
from imageforge.store import fsync_dir

__all__ = ["create_key", "read_key"]

_KEY = re.compile(r"[0-9a-f]{64}")


def read_key(
    path: Path, what: str, hint: str, announce: Callable[[str], None], *, fix_mode: bool = True
) -> str | None:
    """The key in ``path`` (None if there is no file); InvalidArgument naming ``what``
    and the file, with ``hint``, if it is not a regular file holding a key. A key
    readable by others is made 0600, or only warned about without ``fix_mode`` (a file
    the operator gives, such as a mounted secret, is never changed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink in the key's place
        raise InvalidArgument(
            f"cannot open the {what}: {exc.strerror}",
            location=Location(str(path)),
            hint=f"it must be a regular file; {hint}",
        ) from None
    with os.fdopen(fd, "r") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(f"the {what} is not a regular file", location=Location(str(path)))
        if stat.S_IMODE(st.st_mode) & 0o077 and fix_mode:
            os.fchmod(fd, 0o600)
            announce(f"{path} was readable by other users; made it 0600")
        elif stat.S_IMODE(st.st_mode) & 0o077:
            announce(f"{path} is readable by other users: whoever reads it holds the {what}")
        key = f.read(200).strip()
    if not _KEY.fullmatch(key):
        raise InvalidArgument(
            f"not a {what} (64 hex digits)", location=Location(str(path)), hint=hint
        )
    return key


def create_key(path: Path, what: str, hint: str) -> str:
    """Write a new key atomically; if another process made one first, that one."""
    fd, tmp = tempfile.mkstemp(prefix=".key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # never replaces: the first process's key wins
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    key = read_key(path, what, hint, lambda _msg: None)
    assert key is not None
    return key
