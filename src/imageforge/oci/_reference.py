"""Image references (``[domain/]path[:tag][@digest]``), parsed by the grammar of the
distribution project's ``reference`` package and normalised as docker does:
``busybox`` is ``docker.io/library/busybox:latest``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imageforge.errors import InvalidArgument
from imageforge.oci._digest import Digest

__all__ = ["DEFAULT_DOMAIN", "DEFAULT_TAG", "Reference"]

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """A normalised reference. ``tag`` and ``digest`` may both be set (``name:tag@digest``);
    a reference with neither means ``:latest``."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        original = text
        if not text:
            raise InvalidArgument("empty image reference")
        digest: Digest | None = None
        if "@" in text:
            text, _, dig = text.partition("@")
            try:
                digest = Digest(dig)
            except InvalidArgument as exc:
                raise InvalidArgument(f"invalid reference {original!r}: {exc.message}") from None
        tag: str | None = None
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            text, _, tag = text.rpartition(":")
            if not _TAG.fullmatch(tag):
                raise InvalidArgument(
                    f"invalid reference {original!r}: bad tag {tag!r}",
                    hint="a tag is up to 128 letters, digits, '_', '.' or '-', not starting "
                    "with '.' or '-'",
                )
        domain, _, rest = text.partition("/")
        looks_like_domain = (
            "." in domain or ":" in domain or domain == "localhost" or domain != domain.lower()
        )
        if rest and looks_like_domain:
            if not _DOMAIN.fullmatch(domain):
                raise InvalidArgument(f"invalid reference {original!r}: bad registry {domain!r}")
            path = rest
        else:
            domain, path = DEFAULT_DOMAIN, text
        if domain == _LEGACY_DOMAIN:
            domain = DEFAULT_DOMAIN
        if not _PATH.fullmatch(path):
            hint = None
            if path != path.lower():
                hint = "repository names must be lower case"
            raise InvalidArgument(
                f"invalid reference {original!r}: bad repository name {path!r}", hint=hint
            )
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = _OFFICIAL_PREFIX + path
        if len(domain) + 1 + len(path) > _MAX_NAME:
            raise InvalidArgument(f"invalid reference {original!r}: name longer than 255")
        return cls(domain, path, tag, digest)

    @property
    def name(self) -> str:
        """``domain/path``, the repository without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def repository(self) -> str:
        return self.path

    def with_default_tag(self) -> Reference:
        """Add ``:latest`` when the reference has neither tag nor digest."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def familiar(self) -> str:
        """The short form docker prints: ``busybox:latest``, ``quay.io/x/y:1``."""
        out = self.name
        if self.domain == DEFAULT_DOMAIN:
            official = self.path.startswith(_OFFICIAL_PREFIX) and self.path.count("/") == 1
            out = self.path.removeprefix(_OFFICIAL_PREFIX) if official else self.path
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out
