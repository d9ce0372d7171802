"""Secrets the registry must keep to use them (replication endpoint passwords, webhook
secrets, proxy-cache upstream passwords), sealed with a key kept outside the metadata
database, so whoever reads the database (a dump, a backup, a replica's PostgreSQL user)
does not learn them. The key is ``secret.key`` in the data
directory (64 hex digits, mode 0600, made atomically on first use) or a file given for
replicas sharing one database (``--secret-key-file``, ``$IMAGEFORGE_SECRET_KEY_FILE``,
``secret_key_file`` in the configuration). Sealed with Fernet (AES-128-CBC and
HMAC-SHA256, authenticated): a wrong key is told apart from a damaged value.

A sealed column value (``seal_value``) starts with ``fernet:``, so rows older versions
stored in clear are recognised without the key and sealed when their store is opened
(:func:`is_sealed`); replication keeps its sealed passwords in a field of their own."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from imageforge.errors import InvalidArgument, Location, Unsupported
from imageforge.registry._keyfile import create_key, read_key

__all__ = ["SECRET_KEY_ENV", "SECRET_KEY_FILE", "SecretBox", "is_sealed", "need_box", "secret_box"]

SECRET_KEY_FILE = "secret.key"
SECRET_KEY_ENV = "IMAGEFORGE_SECRET_KEY_FILE"
_WHAT = "secret key"
_HINT = (
    "it seals the stored passwords and webhook secrets: restore the registry's own key"
    " file, or delete it and set each again (replication endpoint add --replace, webhook"
    " add, project add --proxy-for)"
)
_SEALED = "fernet:"  # what a sealed column value starts with


def is_sealed(value: str) -> bool:
    """Whether a stored column value was sealed (by :meth:`SecretBox.seal_value`), not
    kept in clear by an older version."""
    return value.startswith(_SEALED)


class SecretBox:
    """Seals and opens short secrets with the key in ``path`` (made on first use)."""

    def __init__(self, path: Path, announce: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._announce = announce or (lambda _msg: None)
        self._fernet: Fernet | None = None
        self._lock = threading.Lock()

    def _key(self) -> Fernet:
        with self._lock:
            if self._fernet is None:
                key = read_key(self.path, _WHAT, _HINT, self._announce)
                if key is None:
                    if not self.path.parent.is_dir():
                        raise InvalidArgument(
                            "the directory of the secret key does not exist",
                            location=Location(str(self.path)),
                        )
                    key = create_key(self.path, _WHAT, _HINT)
                self._fernet = Fernet(base64.urlsafe_b64encode(bytes.fromhex(key)))
            return self._fernet

    def ready(self) -> None:
        """Read (or make) the key now: a missing or unreadable one stops a change
        before it starts, not halfway."""
        self._key()

    def seal(self, secret: str) -> str:
        return self._key().encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str, what: str, kind: str = "password") -> str:
        """The secret in ``sealed``; InvalidArgument naming ``what`` and the key file
        if this key did not seal it."""
        try:
            return self._key().decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise InvalidArgument(
                f"the stored {kind} of {what} cannot be opened with this secret key",
                location=Location(str(self.path)),
                hint="the key is not the one that sealed it: give the registry's own key"
                f" (--secret-key-file or ${SECRET_KEY_ENV}), or set the {kind} again",
            ) from None

    def seal_value(self, secret: str) -> str:
        """``secret`` sealed for a column that older versions kept in clear."""
        return _SEALED + self.seal(secret)

    def open_value(self, stored: str, what: str, kind: str = "password") -> str:
        """The secret in a column value: opened if sealed, as it is if still clear (a
        row of an older version, sealed when its store is next opened with the key)."""
        if not is_sealed(stored):
            return stored
        return self.open(stored[len(_SEALED) :], what, kind)


def need_box(box: SecretBox | None, secrets: str, commands: str) -> SecretBox:
    """``box``, or an error saying that ``secrets`` (e.g. "webhook secrets") can be
    neither stored nor used by a registry opened without its key (``commands`` open it
    with the key)."""
    if box is None:
        raise Unsupported(
            f"this registry was opened without its secret key: {secrets} can be"
            " neither stored nor used",
            hint=f"use registry serve or {commands}",
        )
    return box


def secret_box(
    data_dir: Path, given: Path | None = None, announce: Callable[[str], None] | None = None
) -> SecretBox:
    """The data directory's box: the key file ``given``, else ``$IMAGEFORGE_SECRET_KEY_FILE``,
    else ``secret.key`` in ``data_dir``."""
    env = os.environ.get(SECRET_KEY_ENV)
    path = given or (Path(env) if env else data_dir / SECRET_KEY_FILE)
    return SecretBox(path, announce)
