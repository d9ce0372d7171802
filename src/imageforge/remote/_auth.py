"""The registry auth flow as one ``httpx.Auth``: basic, and the bearer-token flow of the
distribution spec (anonymous or with credentials, a token realm on another host, scope
upgrades for cross-repository mounts).

Hand-written: httpx has no registry token flow and no maintained library offers one for
a sync httpx client. The scope a request needs is read from its URL (pull for GET/HEAD,
pull,push otherwise, plus pull on the ``from`` repository of a mount) and joined with
the scope the server's challenge asks for. Tokens are cached per scope; once a registry
has challenged, later requests carry credentials up front, so a request body (an upload
chunk) is not sent twice.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Generator
from dataclasses import dataclass

from imageforge._httpx import httpx
from imageforge.errors import Denied, Unauthorized, Unavailable
from imageforge.remote._authfile import Credentials

__all__ = ["RegistryAuth", "parse_challenge", "scopes_for"]

_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:blobs|manifests|tags|referrers)/")
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    realm: str = ""
    service: str = ""
    scope: str = ""
    error: str = ""


def parse_challenge(header: str) -> Challenge | None:
    """A ``WWW-Authenticate`` header -> its scheme and parameters (None if neither
    Basic nor Bearer)."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }
    kind = scheme.lower()
    if kind not in ("basic", "bearer"):
        return None
    return Challenge(
        kind,
        params.get("realm", ""),
        params.get("service", ""),
        params.get("scope", ""),
        params.get("error", ""),
    )


def scopes_for(request: httpx.Request) -> frozenset[str]:
    """The token scopes a request needs, from its method and URL."""
    m = _REPO_PATH.match(request.url.path)
    if m is None:
        return frozenset()
    actions = "pull" if request.method in ("GET", "HEAD") else "pull,push"
    if request.method == "DELETE":
        actions = "delete"
    out = {f"repository:{m.group('name')}:{actions}"}
    source = request.url.params.get("from")
    if source:
        out.add(f"repository:{source}:pull")
    return frozenset(out)


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class RegistryAuth(httpx.Auth):
    """Auth for one registry host. ``preemptive_basic`` sends the credentials on the
    first request (``login`` does, so a registry that allows anonymous ``/v2/`` still
    checks them)."""

    def __init__(
        self, host: str, credentials: Credentials | None, *, preemptive_basic: bool = False
    ) -> None:
        self.host = host
        self.credentials = credentials
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[frozenset[str], str] = {}
        if preemptive_basic and credentials is not None:
            self._challenge = Challenge("basic")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        scopes = scopes_for(request)
        with self._lock:
            challenge = self._challenge
            token = self._tokens.get(scopes)
        sent: str | None = None
        if challenge is not None and challenge.scheme == "bearer":
            if token is None:
                token = yield from self._fetch_token(challenge, scopes)
            sent = f"Bearer {token}"
        elif challenge is not None and self.credentials is not None:
            sent = _basic(self.credentials)
        if sent:
            request.headers["Authorization"] = sent
        response = yield request
        if response.status_code != 401:
            return
        new = parse_challenge(response.headers.get("www-authenticate", ""))
        if new is None:
            return
        with self._lock:
            self._challenge = new
        if new.scheme == "basic":
            if self.credentials is None or (sent or "").startswith("Basic "):
                return  # nothing (more) to offer: the caller reports the 401
            request.headers["Authorization"] = _basic(self.credentials)
        else:
            wanted = scopes | frozenset(s for s in new.scope.split(" ") if s)
            token = yield from self._fetch_token(new, wanted)
            if sent == f"Bearer {token}":
                return  # the same token again would be refused again
            with self._lock:
                self._tokens[scopes] = token
            request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _fetch_token(
        self, challenge: Challenge, scopes: frozenset[str]
    ) -> Generator[httpx.Request, httpx.Response, str]:
        if not challenge.realm:
            raise Unavailable(
                f"{self.host}: the registry asks for a bearer token but names no realm"
            )
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params += [("scope", s) for s in sorted(scopes)]
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = _basic(self.credentials)
        response = yield httpx.Request("GET", challenge.realm, params=params, headers=headers)
        response.read()
        if response.status_code == 401:
            who = self.credentials.username if self.credentials else "anonymous"
            raise Unauthorized(
                f"{self.host}: the token service {challenge.realm} refused the credentials "
                f"of {who}",
                hint=f"check the user name and password: imageforge login {self.host}",
            )
        if response.status_code == 403:
            raise Denied(f"{self.host}: the token service {challenge.realm} denied access")
        if response.status_code != 200:
            raise Unavailable(
                f"{self.host}: the token service {challenge.realm} answered {response.status_code}"
            )
        try:
            data = response.json()
            token = str(data.get("token") or data.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise Unavailable(f"{self.host}: the token service {challenge.realm} sent no token")
        with self._lock:
            self._tokens[scopes] = token
        return token
