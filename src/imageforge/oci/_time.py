"""RFC 3339 timestamps as image configs, SBOMs and logs write them: UTC, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

__all__ = ["rfc3339"]


def rfc3339(when: datetime | float | None = None, *, digits: Literal[0, 3, 6] = 0) -> str:
    """``when`` in UTC as RFC 3339 (``2024-05-01T12:00:00Z``), with ``digits`` of
    fractional seconds (truncated, as Go's layouts do). ``when`` is a datetime (a naive
    one is taken as UTC), seconds since the epoch, or None for now. The one formatter:
    every timestamp imageforge writes goes through it."""
    if when is None:
        t = datetime.now(UTC)
    elif isinstance(when, datetime):
        t = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    else:
        t = datetime.fromtimestamp(when, UTC)
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if digits:
        text += "." + f"{t.microsecond:06d}"[:digits]
    return text + "Z"
