"""PEP 440 order for PyPI, through ``packaging`` (the reference implementation pip uses).

A version ``packaging`` rejects (a pre-PEP 440 "legacy" string some old releases and
advisories still carry) sorts below every valid version, as ``packaging``'s own
LegacyVersion (epoch -1) put them before it was dropped; among such versions the order
is their lower-cased text (LegacyVersion's finer order among them is not reproduced)."""

from __future__ import annotations

from functools import total_ordering

from packaging.version import InvalidVersion, Version

__all__ = ["Pep440Key", "key", "valid"]


@total_ordering
class Pep440Key:
    __slots__ = ("version", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.version: Version | None = Version(text)
        except InvalidVersion:
            self.version = None

    def _parts(self) -> tuple[int, Version | str]:
        return (1, self.version) if self.version is not None else (0, self.text.lower())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pep440Key):
            return NotImplemented
        if (self.version is None) != (other.version is None):
            return False
        if self.version is not None:
            return self.version == other.version
        return self.text.lower() == other.text.lower()

    def __lt__(self, other: Pep440Key) -> bool:
        if self.version is None or other.version is None:
            if self.version is None and other.version is None:
                return self.text.lower() < other.text.lower()
            return self.version is None
        return self.version < other.version

    def __hash__(self) -> int:
        return hash(self.version) if self.version is not None else hash(self.text.lower())


def key(version: str) -> Pep440Key:
    return Pep440Key(version.strip())


def valid(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True
