"""The token signing key: random, in its own file ``token-signing.key`` (mode 0600) in
the data directory, apart from the metadata (as distribution keeps its key apart), so
whoever reads the metadata database cannot forge tokens.

A data directory made by an earlier version kept the key in the database, readable by
everyone there: that key counts as known, so the first start makes a new key in the
file and deletes the old one (tokens signed with it stop working; clients log in again).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imageforge.registry._keyfile import create_key, read_key
from imageforge.registry.meta import MetaStore

__all__ = ["KEY_FILE", "token_key"]

KEY_FILE = "token-signing.key"
_OLD_SETTING = "token_key"
_WHAT = "token signing key"
_HINT = "delete it: a new one is made at the next start (tokens issued before stop working)"


def _read(path: Path, announce: Callable[[str], None]) -> str | None:
    return read_key(path, _WHAT, _HINT, announce)


def _create(path: Path) -> str:
    return create_key(path, _WHAT, _HINT)


def token_key(data_dir: Path, meta: MetaStore, announce: Callable[[str], None]) -> str:
    """The data directory's token signing key, made (or moved out of ``meta``) if needed."""
    path = data_dir / KEY_FILE
    key = _read(path, announce)
    old = meta.setting(_OLD_SETTING)
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
