"""The error a failed verification raises: a :class:`~imageforge.errors.Denied` that also
says, as a stable word, why (so a CLI and a policy can branch on it)."""

from __future__ import annotations

from typing import Final

from imageforge.errors import Denied, Location

__all__ = ["REASONS", "VerificationFailed"]

# Why a verification failed. Stable: scripts and the CLI's JSON output may rely on them.
REASONS: Final = frozenset(
    {
        "bad-signature",  # the signature does not verify over these bytes with this key
        "no-signature",  # nothing signed was found
        "wrong-digest",  # the payload names another image digest than the one checked
        "annotation-mismatch",  # a required annotation is missing or has another value
        "wrong-payload-type",  # a DSSE envelope carries another payload type than expected
        "malformed",  # a signature, payload or envelope that cannot be read
    }
)


class VerificationFailed(Denied):
    """A signature, payload or envelope that does not hold up; ``reason`` is one of
    :data:`REASONS`."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        hint: str | None = None,
        location: Location | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown verification failure reason {reason!r}")
        super().__init__(message, hint=hint, location=location)
        self.reason = reason
