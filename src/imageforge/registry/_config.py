"""The registry's configuration: defaults, overridden by a ``registry.toml``.

```toml
[registry]
service = "imageforge-registry"
max_manifest_bytes = 4194304
token_lifetime = 300
db = "postgresql://registry@db.example/registry"   # default: SQLite in the data directory
token_realm = "https://auth.example/token"  # default: /token on the registry itself
upload_expiry = "7d"            # an unfinished upload is purged this long after it began
header_timeout = 20             # seconds a client has to send a request's headers
trusted_proxies = ["10.0.0.2"]  # whose X-Forwarded-For/-Proto to believe (default: nobody's)
failed_login_limit = 10         # failed logins per user and address within the window ...
failed_login_address_limit = 100  # ... and per address for any user; then 429 (0: no limit)
failed_login_window = "5m"
scan_workers = 2                # scans run at once by this process (0: none), when a
                                # scanner is given (registry serve gives one)
scan_lease = "5m"               # a scan not renewed this long is claimed again
scan_retry = "30s"              # a failed scan is tried again after this, twice as long
scan_attempts = 3               #   each time, up to this many attempts in all
scan_poll = "1s"                # an idle worker looks for a job this often
webhook_private_targets = true  # webhooks may post to loopback/private addresses (Harbor's)
webhook_retry_base = "10s"      # a failed delivery is retried after 10 s, 20 s, 40 s, ...
webhook_attempts = 8            # ... until this many attempts were made
replication_lease = "1m"        # a replication run not renewed this long (its process
                                # died) is taken over by another server
secret_key_file = "/run/secrets/imageforge.key"  # the key sealing stored passwords and secrets
                                # (default: secret.key in the data directory)
storage = "s3://BUCKET/PREFIX?endpoint=http://s3.example:8333"  # blobs and uploads in S3
                                # (default: the data directory); credentials from
                                # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file
storage_redirect = false        # blob GETs answered with a redirect to a presigned S3 URL
token_key_file = "/run/secrets/token.key"  # the token signing key (64 hex digits) all
                                # replicas share; default: one made in the data directory
db_pool_size = 10               # PostgreSQL connections this process opens at most ...
db_pool_timeout = "30s"         # ... and how long a request waits for a free one

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

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, Location
from imageforge.oci import parse_duration
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
    upload_expiry: float = 7 * 86400  # as distribution's uploadpurging age
    header_timeout: float = 20.0
    trusted_proxies: list[str] = field(default_factory=list)
    failed_login_limit: int = 10
    failed_login_address_limit: int = 100
    failed_login_window: float = 300.0
    scan_workers: int = 2
    scan_lease: float = 300.0
    scan_retry: float = 30.0
    scan_attempts: int = 3
    scan_poll: float = 1.0
    webhook_private_targets: bool = True
    webhook_retry_base: float = 10.0
    webhook_attempts: int = 8
    replication_lease: float = 60.0
    # the key that seals stored passwords; None: secret.key in data_dir (made on first use)
    secret_key_file: Path | None = None
    storage: str | None = None  # s3://BUCKET/PREFIX?endpoint=URL; None: data_dir/storage
    storage_redirect: bool = False  # blob GETs redirected to presigned URLs (S3 only)
    token_key_file: Path | None = None  # shared by replicas; None: one in data_dir
    db_pool_size: int = 10  # PostgreSQL connections at most (a pool per process)
    db_pool_timeout: float = 30.0  # seconds a request waits for a free connection
    users: list[UserConfig] = field(default_factory=list)
    projects: list[ProjectConfig] = field(default_factory=list)


def _count(value: object, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidArgument(f"{what} {value!r} is not a whole number >= 0 (0: no limit)")


def _proxies(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidArgument("[registry] trusted_proxies is not a list of addresses")
    for item in value:
        try:
            if "/" in item:
                ipaddress.ip_network(item)
            else:
                ipaddress.ip_address(item)
        except ValueError:
            raise InvalidArgument(
                f"[registry] trusted_proxies: {item!r} is not an IP address or network"
            ) from None
    return list(value)


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
        secret_key = reg.get("secret_key_file")
        if secret_key is not None and not isinstance(secret_key, str):
            raise InvalidArgument("[registry] secret_key_file is not a path", location=where)
        cfg.secret_key_file = None if secret_key is None else Path(secret_key)
        try:
            if "upload_expiry" in reg:
                cfg.upload_expiry = parse_duration(reg["upload_expiry"], "[registry] upload_expiry")
            if "header_timeout" in reg:
                cfg.header_timeout = parse_duration(
                    reg["header_timeout"], "[registry] header_timeout"
                )
            if "failed_login_window" in reg:
                cfg.failed_login_window = parse_duration(
                    reg["failed_login_window"], "[registry] failed_login_window"
                )
            for key in ("scan_lease", "scan_retry", "scan_poll", "replication_lease"):
                if key in reg:
                    setattr(cfg, key, parse_duration(reg[key], f"[registry] {key}"))
            for key in ("failed_login_limit", "failed_login_address_limit", "scan_workers"):
                if key in reg:
                    setattr(cfg, key, _count(reg[key], f"[registry] {key}"))
            if "scan_attempts" in reg:
                cfg.scan_attempts = max(1, _count(reg["scan_attempts"], "[registry] scan_attempts"))
            cfg.trusted_proxies = _proxies(reg.get("trusted_proxies", []))
            if "webhook_retry_base" in reg:
                cfg.webhook_retry_base = parse_duration(
                    reg["webhook_retry_base"], "[registry] webhook_retry_base"
                )
            if "webhook_attempts" in reg:
                cfg.webhook_attempts = max(
                    1, _count(reg["webhook_attempts"], "[registry] webhook_attempts")
                )
            private = reg.get("webhook_private_targets", True)
            if not isinstance(private, bool):
                raise InvalidArgument("[registry] webhook_private_targets is not true or false")
            cfg.webhook_private_targets = private
            storage = reg.get("storage")
            if storage is not None and (not isinstance(storage, str) or "://" not in storage):
                raise InvalidArgument(f"[registry] storage {storage!r} is not a URL (s3://...)")
            cfg.storage = storage
            redirect = reg.get("storage_redirect", False)
            if not isinstance(redirect, bool):
                raise InvalidArgument("[registry] storage_redirect is not true or false")
            cfg.storage_redirect = redirect
            key_file = reg.get("token_key_file")
            if key_file is not None and not isinstance(key_file, str):
                raise InvalidArgument("[registry] token_key_file is not a string (a path)")
            if key_file is not None:
                cfg.token_key_file = Path(key_file)
            if "db_pool_size" in reg:
                size = reg["db_pool_size"]
                if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                    raise InvalidArgument(f"[registry] db_pool_size {size!r} is not a number >= 1")
                cfg.db_pool_size = size
            if "db_pool_timeout" in reg:
                cfg.db_pool_timeout = parse_duration(
                    reg["db_pool_timeout"], "[registry] db_pool_timeout"
                )
        except InvalidArgument as exc:
            raise InvalidArgument(exc.message, location=where) from None
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
