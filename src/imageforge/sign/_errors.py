"""The error a failed verification raises: a :class:`~imageforge.errors.Denied` that also
says, as a stable word, why (so a CLI and a policy can branch on it)."""

from __future__ import annotations

from typing import Any, Final

from imageforge.errors import Denied, InvalidArgument, Location
from imageforge.oci import load_json

__all__ = ["REASONS", "VerificationFailed", "json_object"]

# Why a verification failed. Stable: scripts and the CLI's JSON output may rely on them.
REASONS: Final = frozenset(
    {
        "bad-signature",  # the signature does not verify over these bytes with this key
        "bad-log-entry",  # a Rekor entry missing, not signed by the log, or of another signature
        "no-signature",  # nothing signed was found
        "wrong-digest",  # the payload names another image digest than the one checked
        "annotation-mismatch",  # a required annotation is missing or has another value
        "wrong-payload-type",  # a DSSE envelope carries another payload type than expected
        "malformed",  # a signature, payload or envelope that cannot be read
        "policy-violation",  # verified attestations that do not meet the policy given
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


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """A signed object's JSON object, or a ``malformed`` :class:`VerificationFailed`."""
    try:
        data = load_json(raw, what)
    except InvalidArgument:  # bad UTF-8 or JSON, or hostile nesting
        raise VerificationFailed(f"{what}: not JSON", reason="malformed") from None
    if not isinstance(data, dict):
        raise VerificationFailed(f"{what}: not a JSON object", reason="malformed")
    return data
