"""The findings model: severities, rules as the report sees them, findings, a report."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument, Location

__all__ = ["Finding", "Report", "RuleInfo", "Severity", "parse_threshold", "worst"]


class Severity(enum.StrEnum):
    """How much a finding matters, worst first. ``rank`` orders them (error = 3)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    STYLE = "style"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        """True when this severity is ``threshold`` or worse."""
        return self.rank >= threshold.rank


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1, Severity.STYLE: 0}


def parse_threshold(value: str) -> Severity | None:
    """A failure threshold as written by a user: a severity name, or ``none`` (None:
    never fail). Raises :class:`InvalidArgument` on anything else."""
    text = value.strip().lower()
    if text == "none":
        return None
    try:
        return Severity(text)
    except ValueError:
        choices = ", ".join([*(s.value for s in Severity), "none"])
        raise InvalidArgument(
            f"unknown failure threshold {value!r}", hint=f"use one of: {choices}"
        ) from None


@dataclass(frozen=True)
class RuleInfo:
    """What a report needs to know of a rule: id, short name, default severity, title,
    a longer explanation and where its documentation lives."""

    id: str
    name: str
    severity: Severity
    title: str
    help: str = ""
    help_uri: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Extra facts writers that have a place for them keep (SARIF's rule properties)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "severity": self.severity.value,
            "title": self.title,
            "help": self.help,
            "help_uri": self.help_uri,
        }


@dataclass(frozen=True)
class Finding:
    """One problem at one place. ``location.line``/``column`` are 1-based (0: unknown);
    ``end_line`` is the last line of a multi-line instruction; ``snippet`` the source
    line at ``location.line`` (for the caret view); ``hint`` what to do; ``properties``
    extra facts writers that have a place for them keep (SARIF's result properties, such
    as a scanner's ``security-severity``)."""

    rule_id: str
    severity: Severity
    message: str
    location: Location
    end_line: int = 0
    hint: str | None = None
    snippet: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "end_line": self.end_line or self.location.line,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Report:
    """One run of one tool over some files."""

    tool: str
    version: str
    rules: tuple[RuleInfo, ...] = ()
    findings: tuple[Finding, ...] = ()
    files: tuple[str, ...] = field(default=())
    information_uri: str | None = None

    def counts(self) -> dict[Severity, int]:
        counts = dict.fromkeys(Severity, 0)
        for f in self.findings:
            counts[f.severity] += 1
        return counts

    def fails(self, threshold: Severity | None) -> bool:
        """True when a finding is at ``threshold`` or worse (never when None)."""
        if threshold is None:
            return False
        return any(f.severity.at_least(threshold) for f in self.findings)


def worst(findings: Iterable[Finding]) -> Severity | None:
    """The worst severity among ``findings`` (None when there are none)."""
    best: Severity | None = None
    for f in findings:
        if best is None or f.severity.rank > best.rank:
            best = f.severity
    return best
