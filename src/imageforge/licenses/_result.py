"""What a licence scan returns and its JSON and SARIF views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from imageforge.errors import Location
from imageforge.licenses._categories import CATEGORY_SEVERITY
from imageforge.policy import ScanIgnore
from imageforge.report import (
    Finding,
    Report,
    RuleInfo,
    level_of,
    security_properties,
    security_rank,
)

__all__ = ["LicenseFinding", "LicensePart", "LicenseResult"]

TOOL: Final = "imageforge-licenses"
_ORDER: Final = {
    c: i
    for i, c in enumerate(
        ("forbidden", "restricted", "unknown", "reciprocal", "notice", "permissive", "unencumbered")
    )
}


@dataclass(frozen=True)
class LicensePart:
    """One licence of an expression: its id (or text), category and ``WITH`` exception."""

    license: str
    category: str
    exception: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"license": self.license, "category": self.category}
        if self.exception:
            out["exception"] = self.exception
        return out


@dataclass(frozen=True)
class LicenseFinding:
    """A package's licence: the expression (normalised SPDX, or the text as found), its
    effective category (the choice an OR allows, the worst part of an AND), the severity
    that category carries, its licences, whether it fails the policy and why, and where
    the package was found (file, layer digest)."""

    package: str
    version: str
    type: str
    purl: str
    expression: str
    category: str
    severity: str
    parts: tuple[LicensePart, ...]
    fails: bool = False
    reason: str = ""
    file: str | None = None
    layer: str | None = None
    suppressed_by: ScanIgnore | None = None

    def message(self) -> str:
        text = f"{self.package} {self.version} is licensed {self.expression} ({self.category})"
        return f"{text}: {self.reason}" if self.reason else text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "package": {
                "name": self.package,
                "version": self.version,
                "type": self.type,
                "purl": self.purl,
            },
            "expression": self.expression,
            "category": self.category,
            "severity": self.severity,
            "licenses": [p.to_json() for p in self.parts],
            "failsPolicy": self.fails,
            "reason": self.reason or None,
            "file": self.file,
            "layer": self.layer,
        }
        if self.suppressed_by is not None:
            out["suppressedBy"] = self.suppressed_by.to_json()
        return out

    def to_finding(self) -> Finding:
        return Finding(
            rule_id=f"license-{self.category}",
            severity=level_of(self.severity),
            message=self.message(),
            location=Location(self.file or self.purl),
            hint="replace the package, get another licence for it, or accept it in "
            "[scan.license] allow"
            if self.fails
            else None,
            properties=security_properties(self.severity, category=self.category),
        )


@dataclass
class LicenseResult:
    """Every package's licence (worst first), ``suppressed`` by ``[scan.ignore]``, the
    packages the SBOM gives no licence, the categories that fail, and warnings."""

    findings: list[LicenseFinding] = field(default_factory=list)
    suppressed: list[LicenseFinding] = field(default_factory=list)
    without_license: list[str] = field(default_factory=list)
    fail_on: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[LicenseFinding]:
        """The findings that fail the policy."""
        return [f for f in self.findings if f.fails]

    @property
    def unknown(self) -> list[str]:
        """Every licence (id or text) no category covers, once each, sorted."""
        return sorted(
            {p.license for f in self.findings for p in f.parts if p.category == "unknown"}
        )

    def suppress(self, ignores: Iterable[ScanIgnore], today: dt.date | None = None) -> None:
        """Move findings an unexpired ``[scan.ignore]`` entry names (by one of their
        licences, and by package when the entry lists packages) into :attr:`suppressed`;
        an expired entry that would apply is a warning."""
        day = today or dt.date.today()
        rules = list(ignores)
        kept = []
        for f in self.findings:
            names = {p.license.lower() for p in f.parts} | {f.expression.lower()}
            match = next(
                (
                    r
                    for r in rules
                    if r.id.lower() in names
                    and (not r.packages or f.package in r.packages or f.purl in r.packages)
                ),
                None,
            )
            if match is None:
                kept.append(f)
            elif match.expires is not None and match.expires <= day:
                self.warnings.append(
                    f"[scan.ignore] {match.id} expired on {match.expires.isoformat()}; "
                    f"{f.package}'s licence is reported again"
                )
                kept.append(f)
            else:
                self.suppressed.append(replace(f, suppressed_by=match))
        self.findings = kept

    def sort(self) -> None:
        self.findings.sort(
            key=lambda f: (
                not f.fails,
                -security_rank(f.severity),
                _ORDER.get(f.category, 9),
                f.type,
                f.package,
                f.version,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """``{"licenses": [...]}`` beside the scan's other lists; the unknown licences,
        the packages without one and the suppressed findings under ``licenseScan``."""
        return {
            "licenses": [f.to_json() for f in self.findings],
            "licenseScan": {
                "failOn": list(self.fail_on),
                "failed": len(self.failed),
                "unknown": self.unknown,
                "withoutLicense": list(self.without_license),
                "suppressed": [f.to_json() for f in self.suppressed],
                "warnings": list(self.warnings),
            },
        }

    def to_report(self, version: str, *, everything: bool = False) -> Report:
        """The findings for the shared writers: those that fail the policy and the
        unknown ones (every package's with ``everything``)."""
        shown = [f for f in self.findings if everything or f.fails or f.category == "unknown"]
        categories = dict.fromkeys(f.category for f in shown)
        rules = tuple(
            RuleInfo(
                id=f"license-{c}",
                name=f"license-{c}",
                severity=level_of(_severity(c)),
                title=f"Licence category: {c}",
                properties=security_properties(_severity(c)),
            )
            for c in categories
        )
        return Report(
            tool=TOOL,
            version=version,
            rules=rules,
            findings=tuple(f.to_finding() for f in shown),
        )


def _severity(category: str) -> str:
    return CATEGORY_SEVERITY[category]
