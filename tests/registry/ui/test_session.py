"""The UI's session cookie on its own: ``Secure`` over TLS, and a cookie that was
altered, signed with another key or names a user who no longer has those credentials
counts as no session at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response

from imageforge.registry.auth import TokenIssuer, credential_version, hash_password
from imageforge.registry.meta import MetaStore
from imageforge.registry.ui._session import COOKIE, Session, Sessions


@pytest.fixture
def meta(tmp_path: Path) -> MetaStore:
    store = MetaStore(tmp_path / "meta.db")
    store.add_user("alice", hash_password("alice-password"))
    return store


def _request(scheme: str = "http", cookie: str | None = None) -> Request:
    headers = [] if cookie is None else [(b"cookie", f"{COOKIE}={cookie}".encode())]
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "method": "GET",
            "path": "/ui/",
            "query_string": b"",
            "headers": headers,
            "server": ("reg", 443),
        }
    )


def _cookie(sessions: Sessions, session: Session, scheme: str = "http") -> str:
    response = Response()
    sessions.store(_request(scheme), response, session)
    return response.headers["set-cookie"]


def _alice(meta: MetaStore, sessions: Sessions) -> Session:
    user = meta.user("alice")
    assert user is not None
    return sessions.new("alice", credential_version(user.password_hash))


def test_the_cookie_is_secure_over_tls_only(meta: MetaStore) -> None:
    sessions = Sessions(TokenIssuer("k" * 64, "reg"), meta)
    tls = _cookie(sessions, _alice(meta, sessions), "https").lower()
    assert "; secure" in tls and "httponly" in tls and "samesite=strict" in tls
    assert "; secure" not in _cookie(sessions, _alice(meta, sessions), "http").lower()


def test_a_session_stands_only_while_its_signature_and_credentials_do(meta: MetaStore) -> None:
    sessions = Sessions(TokenIssuer("k" * 64, "reg"), meta)
    value = _cookie(sessions, _alice(meta, sessions)).split(";")[0].split("=", 1)[1]
    loaded = sessions.load(_request(cookie=value))
    assert loaded.user == "alice" and not loaded.fresh

    tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    assert sessions.load(_request(cookie=tampered)).user is None
    other_key = Sessions(TokenIssuer("j" * 64, "reg"), meta)
    assert other_key.load(_request(cookie=value)).user is None

    meta.add_user("alice", hash_password("a-new-password"))  # her password changed
    again = sessions.load(_request(cookie=value))
    assert again.user is None and again.fresh and again.csrf != loaded.csrf
