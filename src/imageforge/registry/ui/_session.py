"""The web UI's session: a signed cookie (JWT, HS256 through PyJWT, under a key derived
from the registry's token signing key) naming the logged-in user, their credential
version and the session's CSRF token.

A visitor who is not logged in gets an anonymous session too, so the login form has a
CSRF token to carry. A session counts only while its user's credentials are the ones it
was made for: a changed password or a deleted user ends it at once (the same check as
bearer tokens, ``subject_version``). The cookie is ``HttpOnly`` and ``SameSite=Strict``
(and ``Secure`` when the request came over TLS); it never holds a password.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

import jwt
from starlette.requests import Request
from starlette.responses import Response

from imageforge.registry.auth import TokenIssuer, subject_version
from imageforge.registry.meta import MetaStore

__all__ = ["COOKIE", "LIFETIME", "Session", "Sessions"]

COOKIE = "imageforge_ui"
LIFETIME = 8 * 3600  # seconds a login lasts
_AUDIENCE = "imageforge-ui"


@dataclass(frozen=True)
class Session:
    user: str | None  # None: not logged in
    version: str  # the user's credential version when they logged in ("" if anonymous)
    csrf: str  # every form carries it; a POST without it is refused
    fresh: bool = False  # made for this request: the response sets the cookie

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, str(sent))


class Sessions:
    def __init__(self, tokens: TokenIssuer, meta: MetaStore) -> None:
        self._key = tokens.derived_key("imageforge ui session")
        self.meta = meta

    def new(self, user: str | None = None, version: str = "") -> Session:
        return Session(user, version, secrets.token_urlsafe(24), fresh=True)

    def load(self, request: Request) -> Session:
        """The request's session if its cookie is valid and its user's credentials are
        unchanged; a new anonymous one otherwise (all checks are quick reads)."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return self.new()
        try:
            claims = jwt.decode(
                raw,
                self._key,
                algorithms=["HS256"],
                audience=_AUDIENCE,
                options={"require": ["exp", "sub", "ver", "csrf"]},
            )
        except jwt.PyJWTError:
            return self.new()
        user = str(claims["sub"]) or None
        version = str(claims["ver"])
        if user is not None:
            current = subject_version(self.meta, user)
            if current is None or not hmac.compare_digest(current, version):
                return self.new()
        return Session(user, version, str(claims["csrf"]))

    def store(self, request: Request, response: Response, session: Session) -> None:
        """Set the cookie holding ``session`` on ``response``."""
        now = int(time.time())
        claims = {
            "aud": _AUDIENCE,
            "sub": session.user or "",
            "ver": session.version,
            "csrf": session.csrf,
            "iat": now,
            "exp": now + LIFETIME,
        }
        response.set_cookie(
            COOKIE,
            jwt.encode(claims, self._key, algorithm="HS256"),
            max_age=LIFETIME,
            path="/ui",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
