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

from collections.abc import Callable
from pathlib import Path

from imageforge.errors import InvalidArgument, Location
from imageforge.registry._keyfile import create_key, read_key
from imageforge.registry.meta import MetaStore

__all__ = ["KEY_FILE", "token_key"]

KEY_FILE = "token-signing.key"
_OLD_SETTING = "token_key"
_WHAT = "token signing key"
_HINT = "delete it: a new one is made at the next start (tokens issued before stop working)"


_SHARED_HINT = "write one with: openssl rand -hex 32 > FILE"


def _read(path: Path, announce: Callable[[str], None], fix_mode: bool = True) -> str | None:
    hint = _HINT if fix_mode else _SHARED_HINT
    return read_key(path, _WHAT, hint, announce, fix_mode=fix_mode)


def _create(path: Path) -> str:
    return create_key(path, _WHAT, _HINT)


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
