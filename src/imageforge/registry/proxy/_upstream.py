"""The seam between a proxy-cache project and the registry it mirrors: what the
registry needs from an upstream (a manifest by tag or digest, the digest a tag names
now, a blob's bytes as a stream), implemented outside the registry (``pipeline``, over
the registry client) and passed in when the server starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from imageforge.oci import Digest

__all__ = ["BlobStream", "Fetched", "Upstream", "UpstreamFactory", "UpstreamSpec"]


@dataclass(frozen=True)
class UpstreamSpec:
    """Where a proxy project's upstream is and how to log in to it."""

    url: str  # http(s)://host[:port]
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A manifest as the upstream sent it: its bytes, its media type (the
    Content-Type) and the digest the upstream named (``Docker-Content-Digest``; None if
    it named none). Nothing here is verified: the proxy checks it before storing."""

    body: bytes
    media_type: str
    named: Digest | None


class BlobStream(Protocol):
    """A blob's bytes as they arrive: ``read`` returns b"" at the end."""

    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class Upstream(Protocol):
    """One upstream registry. Every method raises ``NotFound`` for what the upstream
    does not have, ``Unavailable`` when it cannot be reached or refuses service
    (5xx, 429), ``Unauthorized``/``Denied`` for refused credentials, and
    ``InvalidArgument`` for an answer that is not one (a redirect to another host
    included)."""

    def manifest(self, repo: str, ref: str) -> Fetched:
        """The manifest ``repo:ref`` (tag or digest)."""
        ...

    def head(self, repo: str, tag: str) -> Digest:
        """The digest the tag names now (a HEAD request)."""
        ...

    def blob(self, repo: str, digest: Digest) -> tuple[int | None, BlobStream]:
        """The blob's length (None if not announced) and its bytes as a stream (not
        verified; the caller closes it)."""
        ...

    def close(self) -> None: ...


# Makes the upstream of a proxy project (called once per project, then kept).
UpstreamFactory = Callable[[UpstreamSpec], Upstream]
