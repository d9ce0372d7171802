"""The registry's errors: the shared kinds of ``imageforge.errors``, each named for the
OCI Distribution Spec error code it answers with on ``/v2/`` (``BLOB_UNKNOWN`` is a
``NotFound``, ``MANIFEST_BLOB_UNKNOWN`` an ``InvalidArgument``) and, where the spec
asks for one, a ``detail``. Which HTTP status a kind gets is decided once, in
``api._errors``; nothing here knows about HTTP."""

from __future__ import annotations

from typing import ClassVar

from imageforge.errors import (
    Conflict,
    ImageforgeError,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
)

__all__ = [
    "BlobUnknown",
    "DigestInvalid",
    "LoginLocked",
    "ManifestBlobUnknown",
    "ManifestInvalid",
    "ManifestUnknown",
    "NameInvalid",
    "NameUnknown",
    "SpecError",
    "TokenRefused",
    "UploadConflict",
    "UploadUnknown",
]


class SpecError(ImageforgeError):
    """Put before a shared error kind (``class X(SpecError, NotFound)``): the kind stays
    the shared one, and the Distribution Spec's code for it comes with it."""

    code: ClassVar[str]
    detail: object = None

    def __init__(self, message: str, *, detail: object = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.detail = detail


class BlobUnknown(SpecError, NotFound):
    code = "BLOB_UNKNOWN"


class ManifestUnknown(SpecError, NotFound):
    code = "MANIFEST_UNKNOWN"


class NameUnknown(SpecError, NotFound):
    code = "NAME_UNKNOWN"


class UploadUnknown(SpecError, NotFound):
    code = "BLOB_UPLOAD_UNKNOWN"


class ManifestInvalid(SpecError, InvalidArgument):
    code = "MANIFEST_INVALID"


class ManifestBlobUnknown(SpecError, InvalidArgument):
    """A manifest names a blob (or an index a manifest) the repository does not hold."""

    code = "MANIFEST_BLOB_UNKNOWN"


class DigestInvalid(SpecError, InvalidArgument):
    code = "DIGEST_INVALID"


class NameInvalid(SpecError, InvalidArgument):
    code = "NAME_INVALID"


class UploadConflict(SpecError, Conflict):
    """An upload that cannot go on now: in use by another request, or its blob was
    collected between commit and link."""

    code = "BLOB_UPLOAD_INVALID"


class LoginLocked(SpecError, Unavailable):
    """Too many failed logins lately; ``retry_after`` seconds until the next try counts."""

    code = "TOOMANYREQUESTS"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenRefused(Unauthorized):
    """A bearer token that does not do: ``error`` is the RFC 6750 error code a client
    is told (``invalid_token``, ``insufficient_scope``)."""

    def __init__(self, message: str, *, error: str) -> None:
        super().__init__(message)
        self.error = error
