"""Byte sizes for people: ``20MB`` / ``20MiB`` / ``1.5GB`` in, ``10 MB`` out.

Hand-written (a dozen lines; no maintained library for this is a dependency yet). The
units are go-humanize's ``ParseBytes``, which dive uses for ``highestWastedBytes``, so a
``.dive-ci`` value means the same here: SI prefixes are powers of 1000 (``k``, ``kB``,
``M``, ``MB``, ...), IEC prefixes powers of 1024 (``Ki``, ``KiB``, ``Mi``, ``MiB``,
...), case-insensitive, a bare number is bytes, spaces and thousands commas allowed.
"""

from __future__ import annotations

import re
from typing import Final

from imageforge.errors import InvalidArgument, Location

__all__ = ["format_size", "parse_size"]

_PREFIXES: Final = "kmgtpe"
_UNITS: Final[dict[str, int]] = {"": 1, "b": 1}
for _i, _p in enumerate(_PREFIXES, 1):
    for _suffix in ("", "b"):
        _UNITS[_p + _suffix] = 1000**_i
        _UNITS[_p + "i" + _suffix] = 1024**_i
_SIZE: Final = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int, *, what: str = "size", location: Location | None = None) -> int:
    """Bytes in ``text`` (``20MB`` = 20,000,000; ``20MiB`` = 20,971,520; ``1.5GB``)."""
    if isinstance(text, int):
        if text < 0:
            raise InvalidArgument(f"{what}: {text} is negative", location=location)
        return text
    m = _SIZE.match(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise InvalidArgument(
            f"{what}: {text!r} is not a size",
            hint="write bytes or a number with a unit: 20MB, 20MiB, 1.5GB, 500kB",
            location=location,
        )
    return int(float(m.group(1).replace(",", "")) * _UNITS[unit])


def format_size(n: float) -> str:
    """``n`` bytes in SI units as docker and dive print them: ``0 B``, ``532 kB``, ``10 MB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
