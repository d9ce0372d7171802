"""dpkg version order (``[epoch:]upstream[-revision]``, ``~`` before everything, letters
before other characters), through python-debian's ``debian_support.Version``, which
agrees with ``dpkg --compare-versions`` (checked in the property tests against dpkg and
dpkg's own ``Dpkg::Version``)."""

from __future__ import annotations

from debian.debian_support import Version

__all__ = ["compare", "key", "valid"]


def key(version: str) -> Version:
    """The comparable form; ``ValueError`` when dpkg would reject ``version``."""
    return Version(version.strip())


def valid(version: str) -> bool:
    try:
        key(version)
    except ValueError:
        return False
    return True


def compare(a: str, b: str) -> int:
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)
