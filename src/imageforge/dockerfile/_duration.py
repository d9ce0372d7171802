"""Go's ``time.ParseDuration``, which HEALTHCHECK durations follow."""

from __future__ import annotations

import re

__all__ = ["parse_go_duration"]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_MAX_NANOSECONDS = (1 << 63) - 1
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]+)")


def parse_go_duration(text: str) -> float:
    """Seconds in ``text`` (``1m30s``, ``500ms``, ``0``); ValueError when malformed."""
    s = text
    sign = 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        unit = _UNITS.get(m.group(2))
        if unit is None:
            raise ValueError(f'time: unknown unit "{m.group(2)}" in duration "{text}"')
        total += float(m.group(1)) * unit
        pos = m.end()
    if total * 1e9 > _MAX_NANOSECONDS:  # Go's Duration is an int64 of nanoseconds
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total
