"""Errors in the OCI Distribution Spec's JSON form (``{"errors": [{code, message, detail}]}``)
and the one mapping from imageforge's error kinds to HTTP status and error codes: the
spec's codes on ``/v2/`` (a registry error names its own, e.g. ``BLOB_UNKNOWN``), the
management API's own on ``/api/v1/``."""

from __future__ import annotations

from starlette.responses import JSONResponse

from imageforge.errors import ErrorKind, ImageforgeError, StorageFull
from imageforge.registry.service import LoginLocked, SpecError

__all__ = ["STATUS", "ApiError", "error_response", "http_error"]

STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.DIGEST_MISMATCH: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.DENIED: 403,
    ErrorKind.UNSUPPORTED: 415,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
    # A step the action needs failed on its own terms (a gate's scan, say): the
    # request was understood and cannot be carried out as things are.
    ErrorKind.STEP_FAILED: 422,
}

# The Distribution Spec's code for an error of each kind that does not name its own.
_V2_CODES: dict[ErrorKind, str] = {
    ErrorKind.NOT_FOUND: "NAME_UNKNOWN",
    ErrorKind.ALREADY_EXISTS: "DENIED",
    ErrorKind.INVALID_ARGUMENT: "UNSUPPORTED",
    ErrorKind.DIGEST_MISMATCH: "DIGEST_INVALID",
    ErrorKind.UNAUTHORIZED: "UNAUTHORIZED",
    ErrorKind.DENIED: "DENIED",
    ErrorKind.UNSUPPORTED: "UNSUPPORTED",
    ErrorKind.CONFLICT: "BLOB_UPLOAD_INVALID",
    ErrorKind.UNAVAILABLE: "UNAVAILABLE",
    ErrorKind.STEP_FAILED: "DENIED",
}

# The management API's codes.
_MANAGE_CODES: dict[ErrorKind, str] = {
    ErrorKind.NOT_FOUND: "NOT_FOUND",
    ErrorKind.ALREADY_EXISTS: "CONFLICT",
    ErrorKind.INVALID_ARGUMENT: "INVALID",
    ErrorKind.DIGEST_MISMATCH: "INVALID",
    ErrorKind.UNAUTHORIZED: "UNAUTHORIZED",
    ErrorKind.DENIED: "DENIED",
    ErrorKind.UNSUPPORTED: "UNSUPPORTED",
    ErrorKind.CONFLICT: "CONFLICT",
    ErrorKind.UNAVAILABLE: "UNAVAILABLE",
    ErrorKind.STEP_FAILED: "STEP_FAILED",
}


class ApiError(Exception):
    """An answer only HTTP has words for (no such endpoint, a method not allowed, a
    body over its limit, a range outside the blob), or an imageforge error with the
    headers it needs (a challenge): see :func:`http_error`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: object = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or {}


def http_error(
    exc: ImageforgeError, *, manage: bool = False, headers: dict[str, str] | None = None
) -> ApiError:
    """``exc`` as an HTTP answer: its status by kind, its code (the spec's on ``/v2/``,
    the management API's with ``manage``), and the headers it needs."""
    if isinstance(exc, StorageFull):
        # 507 Insufficient Storage; the message names no server path.
        return ApiError(
            507, "UNAVAILABLE", "the registry has no space left to store this; it was discarded"
        )
    status = STATUS[exc.kind]
    extra = dict(headers or {})
    if isinstance(exc, LoginLocked):
        status = 429
        extra["Retry-After"] = str(exc.retry_after)
    if manage:
        return ApiError(status, _MANAGE_CODES[exc.kind], exc.message, None, extra)
    if isinstance(exc, SpecError):
        return ApiError(status, exc.code, exc.message, exc.detail, extra)
    return ApiError(status, _V2_CODES[exc.kind], exc.message, None, extra)


def error_response(
    err: ApiError | ImageforgeError, *, head: bool = False, manage: bool = False
) -> JSONResponse:
    if isinstance(err, ImageforgeError):
        err = http_error(err, manage=manage)
    body: dict[str, object] = {"code": err.code, "message": err.message}
    if err.detail is not None:
        body["detail"] = err.detail
    resp = JSONResponse({"errors": [body]}, status_code=err.status, headers=err.headers)
    if head:
        resp.body = b""
        resp.headers["content-length"] = "0"
    return resp
