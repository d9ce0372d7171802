"""RubyGems version order (``Gem::Version``: segments split at dots and between digits
and letters, a segment with a letter makes a pre-release, trailing zeros ignored),
through univers' ``GemVersion``, which agrees with Ruby's ``Gem::Version`` (checked in
the property tests against Debian's ruby)."""

from __future__ import annotations

from univers.gem import GemVersion, InvalidVersionError

__all__ = ["compare", "key", "valid"]


def key(version: str) -> GemVersion:
    """The comparable form; ``ValueError`` when RubyGems would reject ``version``."""
    try:
        return GemVersion(version)  # type: ignore[no-untyped-call]
    except InvalidVersionError as exc:
        raise ValueError(str(exc)) from None


def valid(version: str) -> bool:
    try:
        key(version)
    except ValueError:
        return False
    return True


def compare(a: str, b: str) -> int:
    ka, kb = key(a), key(b)
    return int(ka > kb) - int(ka < kb)
