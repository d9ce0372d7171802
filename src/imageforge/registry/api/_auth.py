"""Authentication over HTTP: the Authorization header (Bearer or Basic) parsed and
handed to the access service, Docker's ``WWW-Authenticate: Bearer`` challenges for what
it refuses, and the token endpoint (``GET /token``)."""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imageforge.errors import ImageforgeError, Unauthorized
from imageforge.registry.api._audit import record, remote_of
from imageforge.registry.api._errors import ApiError, error_response, http_error
from imageforge.registry.api._io import run
from imageforge.registry.auth import Access
from imageforge.registry.service import RegistryState, TokenRefused

__all__ = ["HttpAuth", "basic_credentials", "claimed_user"]


def basic_credentials(header: str) -> tuple[str, str]:
    """User and password of a ``Basic`` Authorization header; Unauthorized if
    malformed."""
    try:
        raw = base64.b64decode(header.split(" ", 1)[1]).decode()
        user, password = raw.split(":", 1)
    except (ValueError, IndexError, UnicodeDecodeError):
        raise Unauthorized("malformed basic credentials") from None
    return user, password


def claimed_user(header: str) -> str | None:
    """The user name in a basic Authorization header, unchecked (for the audit log)."""
    try:
        return base64.b64decode(header.split(" ", 1)[1]).decode().split(":", 1)[0]
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


class HttpAuth:
    def __init__(self, state: RegistryState) -> None:
        self.state = state
        self.access = state.access

    def challenge(
        self, request: Request, scopes: list[Access], exc: ImageforgeError | None = None
    ) -> ApiError:
        """A 401 telling the client where to get a token for ``scopes``."""
        realm = self.state.token_realm or f"{request.url.scheme}://{request.url.netloc}/token"
        header = f'Bearer realm="{realm}",service="{self.state.tokens.service}"'
        if scopes:
            scope = " ".join(f"{a.type}:{a.name}:{','.join(sorted(a.actions))}" for a in scopes)
            header += f',scope="{scope}"'
        if isinstance(exc, TokenRefused):
            header += f',error="{exc.error}"'
        exc = exc or Unauthorized("authentication required")
        return http_error(exc, headers={"WWW-Authenticate": header})

    async def require(self, request: Request, wanted: list[Access]) -> str | None:
        """Check that the request may do all of ``wanted``; the user it comes from
        (None: anonymous), also left in ``request.state.user`` for the audit log."""
        header = request.headers.get("authorization", "")
        scheme = header.split(" ", 1)[0].lower()
        request.state.user = None
        try:
            if scheme == "bearer":
                # quick (a signature check, no I/O): not worth a worker thread
                claims = self.access.verify_token(header.split(" ", 1)[1])
                request.state.user = claims.subject
                return await run(self.access.bearer, claims, wanted)
            if scheme == "basic":
                request.state.user = claimed_user(header)
                user, password = basic_credentials(header)
                return await run(self.access.basic, user, password, remote_of(request), wanted)
            await run(self.access.anonymous, wanted)
            return None
        except Unauthorized as exc:
            raise self.challenge(request, wanted, exc) from None

    async def token(self, request: Request) -> Response:
        """``GET /token``: a token granting what the caller may of the scopes asked."""
        header = request.headers.get("authorization", "")
        try:
            credentials = None
            if header.lower().startswith("basic "):
                try:
                    credentials = basic_credentials(header)
                except Unauthorized as exc:
                    user = claimed_user(header)
                    meta = self.state.meta
                    await record(meta, request, user, "login", "", "", "refused", exc.message)
                    raise
            scopes = [
                p for raw in request.query_params.getlist("scope") for p in raw.split(" ") if p
            ]
            issued = await run(self.access.issue_token, credentials, scopes, remote_of(request))
        except ImageforgeError as exc:
            return error_response(exc)
        return JSONResponse(
            {
                "token": issued.token,
                "access_token": issued.token,
                "expires_in": issued.expires_in,
                "issued_at": issued.issued_at,
            }
        )
