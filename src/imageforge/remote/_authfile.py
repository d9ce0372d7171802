"""Registry credentials in the files podman, skopeo and docker use.

Read in the order of containers-auth.json(5): ``$REGISTRY_AUTH_FILE`` (or an explicit
``--authfile``), ``${XDG_RUNTIME_DIR}/containers/auth.json`` (``/run/containers/$UID``
without it), ``${XDG_CONFIG_HOME:-~/.config}/containers/auth.json``, then
``~/.docker/config.json``. ``login`` writes the first of these (never a file under the
store's ``--root``), atomically and readable by its owner only. Entries are
``{"auths": {"HOST[/NAMESPACE]": {"auth": base64("user:password")}}}``; docker's
credential helpers (``credsStore``, ``credHelpers``) are not run.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, Location
from imageforge.store import atomic_write

__all__ = [
    "Credentials",
    "auth_file_paths",
    "default_auth_file",
    "find_credentials",
    "remove_credentials",
    "save_credentials",
]

_DOCKER_HUB_KEYS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password by accident
        return f"Credentials(username={self.username!r}, password=***)"


def default_auth_file() -> Path:
    """Where ``login`` writes: ``$REGISTRY_AUTH_FILE``, else the runtime directory's
    ``containers/auth.json``, as podman does."""
    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        return Path(env)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "containers" / "auth.json"
    return Path(f"/run/containers/{os.geteuid()}/auth.json")


def auth_file_paths(authfile: Path | None = None) -> list[Path]:
    """Every file credentials are read from, first match wins."""
    if authfile is not None:
        return [authfile]
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    paths = [
        default_auth_file(),
        Path(config_home) / "containers" / "auth.json",
        Path.home() / ".docker" / "config.json",
    ]
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def _normalise_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``host/ns`` stays."""
    key = key.removeprefix("https://").removeprefix("http://").rstrip("/")
    if key.endswith(("/v1", "/v2")):
        key = key[:-3]
    host, sep, rest = key.partition("/")
    if host in _DOCKER_HUB_KEYS:
        host = "docker.io"
    return host + sep + rest


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"not valid JSON: {exc.msg}", location=Location(str(path), exc.lineno, exc.colno)
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("auths", {}), dict):
        raise InvalidArgument(
            "expected an object with an 'auths' object", location=Location(str(path))
        )
    return doc


def _decode(entry: Any, path: Path, key: str) -> Credentials | None:
    if not isinstance(entry, dict) or not entry.get("auth"):
        return None
    try:
        user, sep, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise InvalidArgument(
            f"auths[{key!r}].auth is not base64 of 'user:password'", location=Location(str(path))
        )
    return Credentials(user, password)


def find_credentials(
    registry: str, repository: str = "", authfile: Path | None = None
) -> Credentials | None:
    """The credentials for ``registry`` (and, if an entry names one, the longest matching
    namespace of ``repository``), or None for anonymous access."""
    host = _normalise_key(registry)
    wanted = []
    parts = repository.split("/") if repository else []
    for i in range(len(parts), 0, -1):
        wanted.append(f"{host}/{'/'.join(parts[:i])}")
    wanted.append(host)
    for path in auth_file_paths(authfile):
        auths = _read(path).get("auths", {})
        entries = {_normalise_key(k): (k, v) for k, v in auths.items()}
        for key in wanted:
            if key in entries:
                creds = _decode(entries[key][1], path, entries[key][0])
                if creds is not None:
                    return creds
    return None


def _write(path: Path, doc: dict[str, Any]) -> None:
    atomic_write(path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)


def save_credentials(registry: str, creds: Credentials, authfile: Path | None = None) -> Path:
    """Store ``creds`` for ``registry``; returns the file written."""
    path = authfile or default_auth_file()
    doc = _read(path)
    auths = doc.setdefault("auths", {})
    key = _normalise_key(registry)
    for old in [k for k in auths if _normalise_key(k) == key]:
        del auths[old]
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    auths[key] = {"auth": token}
    _write(path, doc)
    return path


def remove_credentials(
    registry: str | None, authfile: Path | None = None
) -> tuple[Path, list[str]]:
    """Forget ``registry`` (every registry if None); the file and the keys removed."""
    path = authfile or default_auth_file()
    doc = _read(path)
    auths = doc.get("auths", {})
    if registry is None:
        removed = list(auths)
    else:
        key = _normalise_key(registry)
        removed = [k for k in auths if _normalise_key(k) == key]
    for k in removed:
        del auths[k]
    if removed:
        _write(path, doc)
    return path, removed
