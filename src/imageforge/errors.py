"""The one exception hierarchy of imageforge.

Every error a user can meet is an :class:`ImageforgeError` with a :class:`ErrorKind`.
The kind is what callers branch on; it is mapped once to exit codes (``cli``) and once
to HTTP status and OCI error codes (``registry``). Messages say what went wrong and,
through ``hint``, what to do about it. Errors about a file (a Dockerfile, a policy
file, a tar member) carry a :class:`Location`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "AlreadyExists",
    "Conflict",
    "DigestMismatch",
    "Denied",
    "ErrorKind",
    "ImageforgeError",
    "InvalidArgument",
    "Location",
    "NotFound",
    "Unauthorized",
    "Unavailable",
    "StepFailed",
    "StorageFull",
    "Unsupported",
]


class ErrorKind(enum.Enum):
    """What sort of failure an error is; stable, so scripts and HTTP codes can rely on it."""

    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    INVALID_ARGUMENT = "InvalidArgument"
    DIGEST_MISMATCH = "DigestMismatch"
    UNAUTHORIZED = "Unauthorized"
    DENIED = "Denied"
    UNSUPPORTED = "Unsupported"
    CONFLICT = "Conflict"
    UNAVAILABLE = "Unavailable"
    STEP_FAILED = "StepFailed"


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column; ``column`` 0 means "whole line"."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class ImageforgeError(Exception):
    """Base of every error imageforge raises on purpose.

    ``message`` says what happened, ``hint`` what the user can do, ``location``
    where in which file (if the error is about a file).
    """

    kind: ErrorKind = ErrorKind.INVALID_ARGUMENT

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def __str__(self) -> str:
        if self.location is not None:
            return f"{self.location}: {self.message}"
        return self.message


class NotFound(ImageforgeError):
    """A named thing (image, blob, file, tag, user) does not exist."""

    kind = ErrorKind.NOT_FOUND


class AlreadyExists(ImageforgeError):
    """Creating something that is already there."""

    kind = ErrorKind.ALREADY_EXISTS


class InvalidArgument(ImageforgeError):
    """Input that cannot be accepted: bad flag value, malformed file, hostile path."""

    kind = ErrorKind.INVALID_ARGUMENT


class DigestMismatch(ImageforgeError):
    """Content does not hash to the digest it was announced with."""

    kind = ErrorKind.DIGEST_MISMATCH

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        actual: str | None = None,
        hint: str | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location)
        self.expected = expected
        self.actual = actual


class Unauthorized(ImageforgeError):
    """Missing or wrong credentials."""

    kind = ErrorKind.UNAUTHORIZED


class Denied(ImageforgeError):
    """Authenticated, but a role or a policy gate refuses the action."""

    kind = ErrorKind.DENIED


class Unsupported(ImageforgeError):
    """A valid request that this machine or this version cannot carry out."""

    kind = ErrorKind.UNSUPPORTED


class Conflict(ImageforgeError):
    """The action clashes with current state (a lock held, an immutable tag, a race)."""

    kind = ErrorKind.CONFLICT


class Unavailable(ImageforgeError):
    """A service or resource needed right now cannot be reached; retrying may work."""

    kind = ErrorKind.UNAVAILABLE


class StorageFull(Unavailable):
    """The filesystem (or quota) under a store has no space left for what was being
    written; what was written is released at once, and nothing stored is damaged."""


class StepFailed(ImageforgeError):
    """A step the user wrote failed on its own terms: a build's RUN exited non-zero.
    ``exit_code`` is the step's, ``output`` the last lines it printed."""

    kind = ErrorKind.STEP_FAILED

    def __init__(
        self,
        message: str,
        *,
        exit_code: int = 1,
        output: tuple[str, ...] = (),
        hint: str | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location)
        self.exit_code = exit_code
        self.output = output
