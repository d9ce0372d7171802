"""RFC 3339 timestamps as image configs, SBOMs and logs write them (UTC, ``Z``), and the
durations users write in options and config files (``90s``, ``5m``, ``7d``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from imageforge.errors import InvalidArgument

__all__ = ["parse_duration", "rfc3339"]


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


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object, what: str) -> float:
    """Seconds from a number or a string such as ``"90s"``, ``"5m"``, ``"12h"``, ``"7d"``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", value.strip())
        if m and float(m.group(1)) > 0:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise InvalidArgument(f"{what} {value!r} is not a positive duration (e.g. 300, 90s, 5m, 7d)")
