"""The registry's configuration: defaults, overridden by a ``registry.toml``.

```toml
[registry]
service = "imageforge-registry"
max_manifest_bytes = 4194304
token_lifetime = 300
db = "postgresql://registry@db.example/registry"   # default: SQLite in the data directory
token_realm = "https://auth.example/token"  # default: /token on the registry itself

[[projects]]
name = "team"
public = false
members = { alice = "developer" }
immutable_tags = ["v*"]          # glob patterns: such a tag never moves once pushed

[[users]]
name = "alice"
password_env = "ALICE_PASSWORD"   # the password is read from this variable
admin = false
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, Location
from imageforge.registry.auth import ROLES

__all__ = ["ProjectConfig", "RegistryConfig", "UserConfig", "load_config"]


@dataclass(frozen=True)
class UserConfig:
    name: str
    password: str
    admin: bool = False


@dataclass(frozen=True)
class ProjectConfig:
    name: str
    public: bool = False
    members: dict[str, str] = field(default_factory=dict)
    immutable_tags: list[str] | None = None  # None: leave what the API set


@dataclass
class RegistryConfig:
    data_dir: Path
    service: str = "imageforge-registry"
    max_manifest_bytes: int = 4 << 20
    token_lifetime: int = 300
    db: str | None = None  # a postgresql:// URL; None: meta.db (SQLite) in data_dir
    # Where 401 challenges send clients for tokens, as Docker Hub sends them to another
    # host: a second server on the same metadata serves /token there. None: this server.
    token_realm: str | None = None
    users: list[UserConfig] = field(default_factory=list)
    projects: list[ProjectConfig] = field(default_factory=list)


def load_config(path: Path, data_dir: Path) -> RegistryConfig:
    """Read ``path``; InvalidArgument (with the file as location) if it is wrong."""
    where = Location(str(path))
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidArgument("no such file", location=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(str(exc), location=where) from None
    cfg = RegistryConfig(data_dir)
    reg = doc.get("registry", {})
    try:
        cfg.service = str(reg.get("service", cfg.service))
        cfg.max_manifest_bytes = int(reg.get("max_manifest_bytes", cfg.max_manifest_bytes))
        cfg.token_lifetime = int(reg.get("token_lifetime", cfg.token_lifetime))
        db = reg.get("db")
        if db is not None and not isinstance(db, str):
            raise InvalidArgument("[registry] db is not a string (a URL)", location=where)
        cfg.db = db
        realm = reg.get("token_realm")
        if realm is not None and (
            not isinstance(realm, str) or not realm.startswith(("http://", "https://"))
        ):
            raise InvalidArgument(
                f"[registry] token_realm {realm!r} is not an http:// or https:// URL",
                location=where,
            )
        cfg.token_realm = realm
        for u in doc.get("users", []):
            env = str(u["password_env"])
            if env not in os.environ:
                raise InvalidArgument(f"user {u['name']}: ${env} is not set", location=where)
            cfg.users.append(UserConfig(str(u["name"]), os.environ[env], bool(u.get("admin"))))
        for p in doc.get("projects", []):
            members = {str(k): str(v) for k, v in dict(p.get("members", {})).items()}
            for user, role in members.items():
                if role not in ROLES:
                    raise InvalidArgument(
                        f"project {p['name']}: role {role!r} of {user} is not one of "
                        + ", ".join(ROLES),
                        location=where,
                    )
            patterns = p.get("immutable_tags")
            if patterns is not None and (
                not isinstance(patterns, list) or not all(isinstance(x, str) for x in patterns)
            ):
                raise InvalidArgument(
                    f"project {p['name']}: immutable_tags is not a list of strings",
                    location=where,
                )
            cfg.projects.append(
                ProjectConfig(str(p["name"]), bool(p.get("public")), members, patterns)
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"missing or wrong setting: {exc}", location=where) from None
    return cfg
