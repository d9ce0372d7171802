"""Password hashing (argon2id through argon2-cffi) and the first-start bootstrap."""

from __future__ import annotations

import functools
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imageforge.registry.meta import MetaStore

__all__ = ["bootstrap", "hash_password", "verify_password"]

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(18))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches. With no hash (an unknown user) a dummy hash is
    checked all the same, so the answer takes as long as for a known user and timing
    does not tell which names exist."""
    try:
        if password_hash is None:
            _HASHER.verify(_dummy_hash(), password)
            return False
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def warm_up() -> None:
    """Make the dummy hash now (at start) rather than in the first unknown login."""
    _dummy_hash()


def bootstrap(meta: MetaStore) -> str | None:
    """On first start create ``admin`` and the public project ``library``.

    The password comes from ``IMAGEFORGE_ADMIN_PASSWORD``; without it one is generated
    and returned (the caller prints it once). Returns None when nothing was created or
    the password came from the environment.
    """
    if meta.user_count():
        return None
    password = os.environ.get("IMAGEFORGE_ADMIN_PASSWORD")
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(18)
    meta.add_user("admin", hash_password(password), admin=True)
    if meta.project("library") is None:
        meta.add_project("library", public=True)
    return generated
