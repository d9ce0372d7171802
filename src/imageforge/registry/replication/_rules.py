"""Replication rules (Harbor's model) with no I/O: where images go (a remote endpoint,
named and shared by rules as Harbor's "registries", or given inline; with direction
``pull`` the endpoint is where they come from), which go
(repository and tag globs as retention's, ``**`` crossing ``/``, with exclusions; labels
of the image config), when (manual, cron, on push), and how (deletions mirrored or not,
a bandwidth limit)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wcmatch import glob

from imageforge.errors import InvalidArgument
from imageforge.registry.retention._rules import _FLAGS, _globs, _matches
from imageforge.registry.retention._run import check_cron

__all__ = [
    "DIRECTIONS",
    "NAME_PATTERN",
    "TRIGGERS",
    "Endpoint",
    "ReplicationRule",
    "check_name",
    "endpoint_from_json",
    "rule_from_json",
]

NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
DIRECTIONS = ("push", "pull")
TRIGGERS = ("manual", "cron", "on_push")
_KEYS = {
    "name", "direction", "endpoint", "repositories", "exclude_repositories", "tags",
    "exclude_tags", "labels", "trigger", "cron", "destination_namespace",
    "mirror_deletions", "bandwidth", "enabled",
}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    """A remote registry: ``url`` is ``http(s)://host[:port]``; the password is kept in
    the metadata database for the copies and never shown."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False  # plain http or an unverified certificate
    name: str = ""  # a named endpoint's name ("": given inline in its rule)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name} if self.name else {}
        return {
            **doc,
            "url": self.url,
            "username": self.username,
            "insecure": self.insecure,
            "has_password": bool(self.password),
        }

    def to_stored(self) -> dict[str, Any]:
        """With the password (which the store seals)."""
        return {
            "url": self.url,
            "username": self.username,
            "password": self.password,
            "insecure": self.insecure,
        }


@dataclass(frozen=True)
class ReplicationRule:
    name: str
    endpoint: Endpoint
    direction: str = "push"  # one of DIRECTIONS
    repositories: tuple[str, ...] = ("**",)  # project/name globs
    exclude_repositories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ("**",)
    exclude_tags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # KEY or KEY=VALUE, all of them in the image config
    trigger: str = "manual"  # one of TRIGGERS
    cron: str = ""
    destination_namespace: str = ""  # prefix of the repository at the destination
    mirror_deletions: bool = False
    bandwidth: int = 0  # bytes per second sent; 0: no limit
    enabled: bool = True

    def selects_repository(self, repo: str) -> bool:
        return _matches(repo, self.repositories, self.exclude_repositories)

    def literal_repositories(self) -> list[str]:
        """The repository patterns that name one repository (no glob in them): what a
        pull lists from a source without a catalog."""
        return [p for p in self.repositories if not glob.is_magic(p, flags=_FLAGS)]

    def selects_tag(self, tag: str) -> bool:
        return _matches(tag, self.tags, self.exclude_tags)

    def selects_labels(self, labels: Mapping[str, str]) -> bool:
        for want in self.labels:
            key, sep, value = want.partition("=")
            if key not in labels or (sep and labels[key] != value):
                return False
        return True

    @property
    def summary(self) -> str:
        """``NAME -> URL`` (push) or ``NAME <- URL`` (pull), as messages show it."""
        return f"{self.name} {'<-' if self.direction == 'pull' else '->'} {self.endpoint.url}"

    def destination(self, repo: str) -> str:
        """The repository ``repo`` is copied to (pushed there, or, pulling, stored
        here): ``destination_namespace`` in place of its first component."""
        if not self.destination_namespace:
            return repo
        return f"{self.destination_namespace.strip('/')}/{repo.split('/', 1)[-1]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "direction": self.direction,
            "endpoint": self.endpoint.to_json(),
            "repositories": list(self.repositories),
            "exclude_repositories": list(self.exclude_repositories),
            "tags": list(self.tags),
            "exclude_tags": list(self.exclude_tags),
            "labels": list(self.labels),
            "trigger": self.trigger,
            "cron": self.cron,
            "destination_namespace": self.destination_namespace,
            "mirror_deletions": self.mirror_deletions,
            "bandwidth": self.bandwidth,
            "enabled": self.enabled,
        }

    def to_stored(self) -> dict[str, Any]:
        """As kept in the database: a named endpoint by its name, an inline one with its
        password (which the store seals)."""
        doc = self.to_json()
        doc["endpoint"] = self.endpoint.name or self.endpoint.to_stored()
        return doc


_URL = re.compile(
    r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?|\[([0-9A-Fa-f:.]+)\])"
    r"(?::[0-9]{1,5})?/?"
)


def _url_ok(url: str) -> bool:
    """``http(s)://HOST[:PORT]`` with a host name, an IPv4 or a bracketed IPv6 address
    and a port up to 65535."""
    m = _URL.fullmatch(url)
    if m is None:
        return False
    try:
        if m.group(1):
            ipaddress.IPv6Address(m.group(1))
        urlsplit(url).port  # noqa: B018 - raises ValueError past 65535
    except ValueError:
        return False
    return True


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(f"invalid {what} name {name!r}", hint="lower case, digits, . _ -")
    return name


def endpoint_from_json(doc: object, name: str = "") -> Endpoint:
    """An endpoint from its JSON (``url``, ``username``, ``password``, ``insecure``);
    InvalidArgument naming what is wrong."""
    if not isinstance(doc, dict):
        raise InvalidArgument("a replication endpoint is a JSON object with its url")
    unknown = set(doc) - {"url", "username", "password", "insecure"}
    if unknown:
        raise InvalidArgument(f"unknown replication endpoint keys: {', '.join(sorted(unknown))}")
    url = doc.get("url")
    if not isinstance(url, str) or not _url_ok(url):
        raise InvalidArgument(
            f"endpoint url {url!r} is not http(s)://HOST[:PORT]",
            hint="e.g. https://registry.example.com or http://127.0.0.1:5000",
        )
    username, password = doc.get("username", ""), doc.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidArgument("endpoint username and password are strings")
    if bool(username) != bool(password):
        raise InvalidArgument("an endpoint's username and password go together")
    insecure = doc.get("insecure", url.startswith("http://"))
    if not isinstance(insecure, bool):
        raise InvalidArgument("endpoint insecure is true or false")
    return Endpoint(url.rstrip("/"), username, password, insecure, name)


def _choice(doc: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = doc.get(key, choices[0])
    if value not in choices:
        raise InvalidArgument(f"replication {key} {value!r} is not one of {', '.join(choices)}")
    return str(value)


def _flag(doc: Mapping[str, Any], key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise InvalidArgument(f"replication {key} is true or false")
    return value


def _endpoint(value: object, named: Callable[[str], Endpoint | None] | None) -> Endpoint:
    if not isinstance(value, str):
        return endpoint_from_json(value)
    found = None if named is None else named(check_name(value, "replication endpoint"))
    if found is None:
        raise InvalidArgument(
            f"replication endpoint {value} does not exist",
            hint=f"registry replication endpoint add {value} --url URL (or list them:"
            " registry replication endpoint list)",
        )
    return found


def rule_from_json(
    doc: object, named: Callable[[str], Endpoint | None] | None = None
) -> ReplicationRule:
    """A rule from its JSON (the API's body, the stored row); its endpoint an object
    (url, username, password, insecure) or the name of an endpoint ``named`` finds;
    InvalidArgument naming what is wrong."""
    if not isinstance(doc, dict):
        raise InvalidArgument("a replication rule is a JSON object")
    unknown = set(doc) - _KEYS
    if unknown:
        raise InvalidArgument(f"unknown replication rule keys: {', '.join(sorted(unknown))}")
    name = check_name(doc.get("name"), "replication rule")
    trigger = _choice(doc, "trigger", TRIGGERS)
    cron = doc.get("cron", "")
    if not isinstance(cron, str):
        raise InvalidArgument("replication cron is a string")
    if trigger == "cron":
        if not cron:
            raise InvalidArgument("a rule triggered by cron needs cron (e.g. '0 3 * * *')")
        check_cron(cron)
    elif cron:
        raise InvalidArgument(f"cron is set but the trigger is {trigger}", hint="--trigger cron")
    direction = _choice(doc, "direction", DIRECTIONS)
    if direction == "pull" and trigger == "on_push":
        raise InvalidArgument(
            f"replication rule {name}: a pull rule cannot be triggered on push (pushes to"
            " the source are not heard here)",
            hint="--trigger manual or --trigger cron --cron '*/15 * * * *'",
        )
    bandwidth = doc.get("bandwidth", 0)
    if not isinstance(bandwidth, int) or isinstance(bandwidth, bool) or bandwidth < 0:
        raise InvalidArgument("replication bandwidth is a number of bytes per second (0: none)")
    namespace = doc.get("destination_namespace", "")
    if not isinstance(namespace, str) or (
        namespace and not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*", namespace.strip("/"))
    ):
        raise InvalidArgument(f"destination_namespace {namespace!r} is not a repository path")
    labels = doc.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise InvalidArgument("replication labels are a list of KEY or KEY=VALUE")
    return ReplicationRule(
        name=name,
        endpoint=_endpoint(doc.get("endpoint"), named),
        direction=direction,
        repositories=_globs(doc.get("repositories", ["**"]), "repositories"),
        exclude_repositories=_globs(doc.get("exclude_repositories", []), "exclude_repositories")
        if doc.get("exclude_repositories")
        else (),
        tags=_globs(doc.get("tags", ["**"]), "tags"),
        exclude_tags=_globs(doc.get("exclude_tags", []), "exclude_tags")
        if doc.get("exclude_tags")
        else (),
        labels=tuple(labels),
        trigger=trigger,
        cron=cron,
        destination_namespace=namespace.strip("/"),
        mirror_deletions=_flag(doc, "mirror_deletions", False),
        bandwidth=bandwidth,
        enabled=_flag(doc, "enabled", True),
    )
