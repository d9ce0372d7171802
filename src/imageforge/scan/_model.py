"""What a scan is asked and what it answers.

:class:`ScanOptions` holds the gate (:class:`Gate`: ``--severity``, ``--min-cvss``,
``--ignore-unfixed``, ``--exit-code``), the matching options and the suppression rules.
:class:`ScanReport` is one scan of one target: what was scanned, the database it was
scanned with, and one :class:`Section` per kind of result. Vulnerabilities are the
first kind (:class:`VulnerabilityResults`); the secret, misconfiguration and licence
scanners add theirs beside it (JSON keys ``secrets``, ``misconfigurations``,
``licenses``), each answering the same questions: its JSON, its counts, how many of its
results fail the gate, its SARIF rules and results, its table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console

from imageforge.policy import LicensePolicy, MisconfigPolicy
from imageforge.report import Finding as ReportFinding
from imageforge.report import RuleInfo
from imageforge.sbom import Distro, Package, Sbom, SourceInfo
from imageforge.secrets import SecretConfig
from imageforge.vuln import DbStatus, Finding, IgnoreRule, MatchOptions, Upgrade

__all__ = [
    "SCANNERS",
    "Gate",
    "ScanOptions",
    "ScanReport",
    "Section",
    "VulnerabilityResults",
]


@dataclass(frozen=True)
class Gate:
    """When a scan fails. ``severities`` (trivy's ``--severity``) and ``min_cvss`` (the
    guide's 7.0) are the threshold: a result reaching either is kept and fails the scan
    with ``exit_code`` (default 1). With no threshold nothing is filtered and the scan
    passes, unless ``exit_code`` is given, which then fails on any result (trivy's
    ``--exit-code`` alone). ``ignore_unfixed`` drops results that have no fix."""

    severities: frozenset[str] | None = None
    min_cvss: float | None = None
    ignore_unfixed: bool = False
    exit_code: int | None = None

    @property
    def threshold(self) -> bool:
        return self.severities is not None or self.min_cvss is not None

    @property
    def active(self) -> bool:
        return self.threshold or self.exit_code is not None

    @property
    def code(self) -> int:
        return 1 if self.exit_code is None else self.exit_code


SCANNERS = ("vuln", "secret", "misconfig", "license")
"""What a scan can look for, by trivy's names (``config`` is read as ``misconfig``)."""


@dataclass(frozen=True)
class ScanOptions:
    """``scanners``: which of :data:`SCANNERS` run (the library's default is the
    vulnerability scan alone; the command's is ``vuln,secret``, as trivy's); ``secrets``,
    ``misconfig``, ``license``: those scanners' settings from the policy file (None: the
    built-in rules). ``rules`` suppress findings of every scanner by id."""

    gate: Gate = Gate()
    match: MatchOptions = MatchOptions()
    rules: tuple[IgnoreRule, ...] = ()
    today: dt.date | None = None  # for expiry dates (default: today)
    scanners: frozenset[str] = frozenset({"vuln"})
    secrets: SecretConfig | None = None
    misconfig: MisconfigPolicy = MisconfigPolicy()
    license: LicensePolicy = LicensePolicy()


class Section(Protocol):
    """One kind of result in a report (the seam other scanners plug into)."""

    @property
    def kind(self) -> str:
        """The JSON key: ``vulnerabilities``, ``secrets``, ``misconfigurations``..."""
        ...

    def to_json(self) -> list[dict[str, Any]]: ...

    def counts(self) -> dict[str, int]:
        """Results per severity (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)."""
        ...

    def failing(self, gate: Gate) -> int:
        """How many results fail ``gate``."""
        ...

    def sarif(self, target: str) -> tuple[list[RuleInfo], list[ReportFinding], dict[str, Any]]:
        """Rules and results for SARIF, and extra rule properties by rule id."""
        ...

    def table(self, console: Console) -> None: ...


@dataclass
class VulnerabilityResults:
    """``findings`` are what the scan reports (suppressions applied, then the gate's
    filters); ``filtered`` counts findings the filters left out; ``suppressed`` carry
    the rule that hid each; ``owned`` are language packages left to their OS package;
    ``upgrades`` one per package with findings."""

    findings: list[Finding] = field(default_factory=list)
    informational: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    filtered: int = 0
    owned: list[Package] = field(default_factory=list)
    upgrades: list[Upgrade] = field(default_factory=list)


@dataclass
class ScanReport:
    """One scan of one target. ``sections`` hold the results, vulnerabilities first."""

    source: SourceInfo
    distro: Distro | None
    sbom: Sbom
    database: DbStatus | None
    gate: Gate
    vulnerabilities: VulnerabilityResults
    sections: Sequence[Section] = ()
    warnings: list[str] = field(default_factory=list)

    def failing(self) -> int:
        """Results that fail, over every section: the gate's, and a licence policy's
        even without a gate."""
        return sum(s.failing(self.gate) for s in self.sections)

    @property
    def exit_code(self) -> int:
        """0, or the gate's code when a result fails it."""
        return self.gate.code if self.failing() else 0
