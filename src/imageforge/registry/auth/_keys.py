"""The token signing key: random, in its own file ``token-signing.key`` (mode 0600) in
the data directory, apart from the metadata (as distribution keeps its key apart), so
whoever reads the metadata database cannot forge tokens.

A data directory made by an earlier version kept the key in the database, readable by
everyone there: that key counts as known, so the first start makes a new key in the
file and deletes the old one (tokens signed with it stop working; clients log in again).

Replicas behind a load balancer each have their own data directory, yet a token one of
them issued must verify on all: they are given one key file (``--token-key-file``, a
mounted secret), which is read, never made or changed.
"""

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
from imageforge.registry.meta import MetaStore
from imageforge.store._atomic import fsync_dir

__all__ = ["KEY_FILE", "token_key"]

KEY_FILE = "token-signing.key"
_OLD_SETTING = "token_key"
_KEY = re.compile(r"[0-9a-f]{64}")


def _read(path: Path, announce: Callable[[str], None], fix_mode: bool = True) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink in the key's place
        raise InvalidArgument(
            f"cannot open the token signing key: {exc.strerror}",
            location=Location(str(path)),
            hint="it must be a regular file; delete it and a new one is made at the next start",
        ) from None
    with os.fdopen(fd, "r") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(
                "the token signing key is not a regular file", location=Location(str(path))
            )
        if stat.S_IMODE(st.st_mode) & 0o077 and fix_mode:
            os.fchmod(fd, 0o600)
            announce(f"{path} was readable by other users; made it 0600")
        elif stat.S_IMODE(st.st_mode) & 0o077:
            announce(f"{path} is readable by other users: whoever reads it can forge tokens")
        key = f.read(200).strip()
    if not _KEY.fullmatch(key):
        raise InvalidArgument(
            "not a token signing key (64 hex digits)",
            location=Location(str(path)),
            hint="delete it: a new one is made at the next start (tokens issued before"
            " stop working)"
            if fix_mode
            else "write one with: openssl rand -hex 32 > FILE",
        )
    return key


def _create(path: Path) -> str:
    """Write a new key atomically; if another process made one first, that one."""
    fd, tmp = tempfile.mkstemp(prefix=".token-key.", dir=path.parent)  # mode 0600
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
    key = _read(path, lambda _msg: None)
    assert key is not None
    return key


def token_key(
    data_dir: Path,
    meta: MetaStore,
    announce: Callable[[str], None],
    shared: Path | None = None,
) -> str:
    """The token signing key: read from ``shared`` when given (the file every replica
    is given; InvalidArgument if it is missing or not a key), else the data directory's,
    made (or moved out of ``meta``) if needed."""
    old = meta.setting(_OLD_SETTING)
    if shared is not None:
        key = _read(shared, announce, fix_mode=False)
        if key is None:
            raise InvalidArgument(
                "no such token key file",
                location=Location(str(shared)),
                hint="give every replica the same file of 64 hex digits: openssl rand -hex 32",
            )
        if old is not None:
            meta.delete_setting(_OLD_SETTING)
        return key
    path = data_dir / KEY_FILE
    key = _read(path, announce)
    if key is None:
        key = _create(path)
        if old is not None:
            announce(
                f"the token signing key was kept in the metadata database ({meta.location}),"
                f" readable there; a new key is in {path} (mode 0600) and the old one is"
                " deleted: tokens issued before stop working, clients log in again"
            )
    if old is not None:
        meta.delete_setting(_OLD_SETTING)
    return key
