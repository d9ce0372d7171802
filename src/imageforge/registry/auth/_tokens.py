"""Signed short-lived bearer tokens (JWT, HS256 through PyJWT) carrying granted access.

The signing key is random per data directory, in its own file (``_keys``). A token also
carries its subject's credential version (a fingerprint of the password or robot secret
hash): a changed password or secret, a deleted user or an expired robot makes every
token issued before invalid at once, since each request compares the version with the
subject's current one (one indexed read; across processes too, as it is in the database).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import jwt

from imageforge.errors import Unauthorized
from imageforge.registry.auth._access import Access, is_robot
from imageforge.registry.meta import MetaStore

__all__ = ["TokenClaims", "TokenIssuer", "credential_version", "subject_version"]


def credential_version(secret_hash: str) -> str:
    """A fingerprint of a stored password or secret hash (each hash has its own salt, so
    any change, even to the same password, gives a new version)."""
    return hashlib.sha256(secret_hash.encode()).hexdigest()[:32]


def subject_version(meta: MetaStore, subject: str) -> str | None:
    """``subject``'s current credential version; None if it no longer exists (or, for a
    robot, has expired)."""
    if is_robot(subject):
        robot = meta.robot(subject)
        if robot is None or robot.expired():
            return None
        return credential_version(robot.secret_hash)
    user = meta.user(subject)
    return None if user is None else credential_version(user.password_hash)


@dataclass(frozen=True)
class TokenClaims:
    subject: str | None  # None: anonymous
    access: list[Access]
    version: str  # the subject's credential version when issued ("" for anonymous)


class TokenIssuer:
    def __init__(self, key: str, service: str, lifetime: int = 300) -> None:
        self.service = service
        self.lifetime = lifetime
        self._key = key

    def issue(
        self, subject: str | None, access: list[Access], version: str = ""
    ) -> tuple[str, int]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "imageforge",
            "aud": self.service,
            "sub": subject or "",
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.lifetime,
            "ver": version,
            "access": [
                {"type": a.type, "name": a.name, "actions": sorted(a.actions)} for a in access
            ],
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), self.lifetime

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use of the same secret (the web UI's session cookies):
        HMAC-SHA256 of ``purpose`` under the signing key, so neither signature can stand
        in for the other."""
        return hmac.new(self._key.encode(), purpose.encode(), hashlib.sha256).digest()

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=self.service,
                options={"require": ["exp", "sub", "ver"]},
            )
            access = [
                Access(str(a["type"]), str(a["name"]), frozenset(str(x) for x in a["actions"]))
                for a in claims.get("access", [])
            ]
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        except (KeyError, TypeError) as exc:
            raise Unauthorized(f"invalid token: malformed access claim ({exc})") from None
        return TokenClaims(str(claims["sub"]) or None, access, str(claims["ver"]))
