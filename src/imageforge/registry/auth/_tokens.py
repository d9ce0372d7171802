"""Signed short-lived bearer tokens (JWT, HS256 through PyJWT) carrying granted access.

The signing key is random per data directory, kept in the metadata database.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from imageforge.errors import Unauthorized
from imageforge.registry.auth._access import Access
from imageforge.registry.meta import MetaStore

__all__ = ["TokenIssuer"]


class TokenIssuer:
    def __init__(self, meta: MetaStore, service: str, lifetime: int = 300) -> None:
        self.service = service
        self.lifetime = lifetime
        self._key = meta.set_setting_once("token_key", secrets.token_hex(32))

    def issue(self, subject: str | None, access: list[Access]) -> tuple[str, int]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "imageforge",
            "aud": self.service,
            "sub": subject or "",
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.lifetime,
            "access": [
                {"type": a.type, "name": a.name, "actions": sorted(a.actions)} for a in access
            ],
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), self.lifetime

    def verify(self, token: str) -> tuple[str | None, list[Access]]:
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], audience=self.service)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        access = [
            Access(str(a["type"]), str(a["name"]), frozenset(a["actions"]))
            for a in claims.get("access", [])
        ]
        return (str(claims["sub"]) or None), access
