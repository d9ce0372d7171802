"""License names as SPDX expressions (through license-expression's SPDX key list)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from license_expression import Licensing, get_spdx_licensing  # type: ignore[import-untyped]

__all__ = ["license_ref", "normalize_license", "spdx_expression"]


@cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


@cache
def normalize_license(text: str) -> str | None:
    """``text`` as a normalised SPDX expression (``gpl-2.0+`` -> ``GPL-2.0-or-later``),
    or ``None`` when it is not one."""
    text = text.strip()
    if not text:
        return None
    try:
        info = _licensing().validate(text)
    except Exception:  # the parser raises on some malformed input instead of reporting
        return None
    if info.errors or not info.normalized_expression:
        return None
    return str(info.normalized_expression)


def license_ref(text: str) -> str:
    """An SPDX ``LicenseRef-`` id for a license that has no SPDX id."""
    return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", text.strip()).strip("-") or "unknown")


def spdx_expression(licenses: Iterable[str]) -> tuple[str | None, dict[str, str]]:
    """All of ``licenses`` joined with AND as one SPDX expression (names without an SPDX
    id become ``LicenseRef-`` ids), and those refs -> the text they stand for."""
    parts: list[str] = []
    refs: dict[str, str] = {}
    for text in licenses:
        spdx = normalize_license(text)
        if spdx is None:
            ref = license_ref(text)
            refs[ref] = text
            parts.append(ref)
        else:
            parts.append(f"({spdx})" if " " in spdx else spdx)
    parts = list(dict.fromkeys(parts))
    return (" AND ".join(parts) if parts else None), refs
