"""Who a request is and what it may do: logins (passwords and robot secrets, with the
failed-login limit and a short cache of good checks), bearer tokens (issued by the
token endpoint, checked against the current state on every request) and anonymous
access.

Every request is authorized against the current state: a bearer token is an upper
bound whose subject must still have the same credentials (``ver``) and still be granted
the actions now; basic credentials are checked (or a cached check confirmed against the
stored hash) each time.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass

from imageforge.errors import Denied, InvalidArgument, Unauthorized
from imageforge.oci import digest_bytes, rfc3339
from imageforge.registry.auth import (
    Access,
    Authorizer,
    LoginLimiter,
    TokenClaims,
    TokenIssuer,
    credential_version,
    is_robot,
    parse_scope,
    subject_version,
    verify_password,
)
from imageforge.registry.meta import MetaStore
from imageforge.registry.service._errors import LoginLocked, TokenRefused

__all__ = ["MAX_SCOPES", "AccessControl", "IssuedToken"]

MAX_SCOPES = 100  # per token request (docker asks for one or two)
_BASIC_CACHE_SECONDS = 60.0
_BASIC_CACHE_MAX = 10_000


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: str  # RFC 3339


class AccessControl:
    def __init__(
        self,
        meta: MetaStore,
        authorizer: Authorizer,
        tokens: TokenIssuer,
        logins: LoginLimiter,
    ) -> None:
        self.meta = meta
        self.authorizer = authorizer
        self.tokens = tokens
        self.logins = logins
        # (user, digest of the password) -> (valid until, the stored hash it was checked
        # against): a cached check counts only while the stored hash is still that one.
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._cache_lock = threading.Lock()

    # --- logins
    def _credential(self, user: str) -> tuple[str | None, bool]:
        """``user``'s stored password (or robot secret) hash, None if there is no such
        user, and whether it may log in now (a robot: not expired)."""
        if is_robot(user):
            robot = self.meta.robot(user)
            if robot is None:
                return None, False
            return robot.secret_hash, not robot.expired()
        row = self.meta.user(user)
        return (None, False) if row is None else (row.password_hash, True)

    def login(self, user: str, password: str, remote: str) -> str:
        """Check ``user``'s password (or robot secret) from ``remote``; the stored hash
        it matched. Unauthorized if wrong; LoginLocked after too many failures lately
        (the first refusal of a lockout is audited)."""
        lockout = self.logins.check(user, remote)
        if lockout is not None:
            if lockout.first:  # one entry per lockout, not one per attempt
                detail = f"locked out: {lockout.why}; for {lockout.retry_after} s"
                self.meta.audit_add(user, "login", "", "", "refused", remote, detail)
            raise LoginLocked(
                f"too many failed logins ({lockout.why}); try again in {lockout.retry_after} s",
                retry_after=lockout.retry_after,
            )
        stored, usable = self._credential(user)
        key = (user, str(digest_bytes(password.encode())))
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(key)
        if usable and stored is not None and cached is not None:
            until, checked = cached
            if until > now and hmac.compare_digest(checked, stored):
                return stored
        # The hash is checked even for an unknown user (against a dummy) and an expired
        # robot: the answer takes as long whether the name exists or not.
        if not verify_password(stored, password) or not usable or stored is None:
            with self._cache_lock:
                self._cache.pop(key, None)
            self.logins.failed(user, remote)
            if is_robot(user):
                raise Unauthorized("invalid, expired or deleted robot account")
            raise Unauthorized("invalid username or password")
        self.logins.succeeded(user, remote)
        with self._cache_lock:
            if len(self._cache) >= _BASIC_CACHE_MAX:
                stale = [k for k, (until, _h) in self._cache.items() if until <= now]
                for k in stale or list(self._cache):
                    del self._cache[k]
            self._cache[key] = (now + _BASIC_CACHE_SECONDS, stored)
        return stored

    # --- what a caller may do
    def allows(self, user: str | None, wanted: Access) -> bool:
        """Whether ``user`` (None: anonymous) may do all of ``wanted`` now."""
        return wanted.actions <= self.authorizer.granted(user, wanted).actions

    def basic(self, user: str, password: str, remote: str, wanted: list[Access]) -> str:
        """Log in and check ``wanted``: the user, or Unauthorized, LoginLocked, Denied."""
        self.login(user, password, remote)
        for w in wanted:
            if not self.allows(user, w):
                raise Denied(f"{user} may not {','.join(w.actions)} {w.name}")
        return user

    def anonymous(self, wanted: list[Access]) -> None:
        """Unauthorized unless anyone may do all of ``wanted``."""
        for w in wanted:
            if not self.allows(None, w):
                raise Unauthorized("authentication required")

    def verify_token(self, token: str) -> TokenClaims:
        """The claims of a token this registry signed (and that has not expired);
        TokenRefused (invalid_token) if it is not one."""
        try:
            return self.tokens.verify(token)
        except Unauthorized as exc:
            raise TokenRefused(exc.message, error="invalid_token") from None

    def bearer(self, claims: TokenClaims, wanted: list[Access]) -> str | None:
        """Check that a token's subject still has the credentials it was issued for and
        that the token grants, and its subject may still do, all of ``wanted``; the
        subject. TokenRefused otherwise."""
        user = claims.subject
        if user is not None:
            # A token outlives nothing: its subject deleted, expired or given a new
            # password or secret since it was issued is refused at once.
            current = subject_version(self.meta, user)
            if current is None or not hmac.compare_digest(current, claims.version):
                raise TokenRefused(
                    f"token of {user} is revoked: the account changed since it was issued",
                    error="invalid_token",
                )
        for w in wanted:
            have = set().union(
                *(g.actions for g in claims.access if g.type == w.type and g.name == w.name)
            )
            what = f"{','.join(sorted(w.actions))} on {w.name}"
            if not w.actions <= have:
                raise TokenRefused(f"token does not grant {what}", error="insufficient_scope")
            # ... and what it grants counts only while the subject may still do it
            if not self.allows(user, w):
                raise TokenRefused(
                    f"token grants {what}, but {user or 'anonymous'} may no longer do it",
                    error="insufficient_scope",
                )
        return user

    # --- the token endpoint
    def issue_token(
        self,
        credentials: tuple[str, str] | None,
        scopes: list[str],
        remote: str,
    ) -> IssuedToken:
        """A token for the ``credentials`` (user and password; None: anonymous)
        granting what they may of the requested ``scopes`` (each ``type:name:actions``).
        A refused login is audited, as is, once per request, every scope not granted."""
        user: str | None = None
        version = ""
        if credentials is not None:
            user, password = credentials
            try:
                version = credential_version(self.login(user, password, remote))
            except Unauthorized as exc:  # a lockout is audited once by login
                self.meta.audit_add(user, "login", "", "", "refused", remote, exc.message)
                raise
        if len(scopes) > MAX_SCOPES:
            raise InvalidArgument(
                f"a token request names at most {MAX_SCOPES} scopes, not {len(scopes)}"
            )
        wanted = [parse_scope(s) for s in scopes]
        granted = [self.authorizer.granted(user, s) for s in wanted]
        refused = [
            (want, want.actions - got.actions)
            for want, got in zip(wanted, granted, strict=True)
            if want.actions - got.actions
        ]
        if refused:
            self._audit_refused_scopes(user, refused, remote)
        token, lifetime = self.tokens.issue(user, granted, version)
        issued = rfc3339()
        return IssuedToken(token, lifetime, issued)

    def _audit_refused_scopes(
        self, user: str | None, refused: list[tuple[Access, frozenset[str]]], remote: str
    ) -> None:
        """One audit entry per token request, however many scopes it was refused."""
        if len(refused) == 1:
            want, missing = refused[0]
            action, detail = ",".join(sorted(missing)), "token"
        else:
            action = ",".join(sorted(set().union(*(m for _w, m in refused))))
            listed = "; ".join(f"{w.name} ({','.join(sorted(m))})" for w, m in refused)
            if len(listed) > 1000:
                listed = listed[:1000] + "..."
            detail = f"token: {len(refused)} scopes refused: {listed}"
            want = refused[0][0]
        self.meta.audit_add(user, action, want.name, "", "refused", remote, detail)
