"""Errors in the OCI Distribution Spec's JSON form (``{"errors": [{code, message, detail}]}``)
and the one mapping from imageforge's error kinds to HTTP status and spec codes."""

from __future__ import annotations

from starlette.responses import JSONResponse

from imageforge.errors import ErrorKind, ImageforgeError, StorageFull

__all__ = ["ApiError", "error_response", "from_imageforge"]

_BY_KIND: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.NOT_FOUND: (404, "NAME_UNKNOWN"),
    ErrorKind.ALREADY_EXISTS: (409, "DENIED"),
    ErrorKind.INVALID_ARGUMENT: (400, "UNSUPPORTED"),
    ErrorKind.DIGEST_MISMATCH: (400, "DIGEST_INVALID"),
    ErrorKind.UNAUTHORIZED: (401, "UNAUTHORIZED"),
    ErrorKind.DENIED: (403, "DENIED"),
    ErrorKind.UNSUPPORTED: (415, "UNSUPPORTED"),
    ErrorKind.CONFLICT: (409, "BLOB_UPLOAD_INVALID"),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE"),
}


class ApiError(Exception):
    """An error with its spec code and HTTP status, raised anywhere in a handler."""

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


def from_imageforge(exc: ImageforgeError, code: str | None = None) -> ApiError:
    if isinstance(exc, StorageFull):
        # 507 Insufficient Storage; the message names no server path.
        return ApiError(
            507, "UNAVAILABLE", "the registry has no space left to store this; it was discarded"
        )
    status, default = _BY_KIND[exc.kind]
    return ApiError(status, code or default, exc.message)


def error_response(err: ApiError, head: bool = False) -> JSONResponse:
    body: dict[str, object] = {"code": err.code, "message": err.message}
    if err.detail is not None:
        body["detail"] = err.detail
    resp = JSONResponse({"errors": [body]}, status_code=err.status, headers=err.headers)
    if head:
        resp.body = b""
        resp.headers["content-length"] = "0"
    return resp
