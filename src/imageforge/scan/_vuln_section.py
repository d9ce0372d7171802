"""The vulnerabilities of a report as a :class:`~imageforge.scan._model.Section`: their
JSON (the contract of :func:`imageforge.vuln.finding_json`), counts per severity, the
gate, SARIF rules and results, and the table grouped by package."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from imageforge.errors import Location
from imageforge.report import Finding as ReportFinding
from imageforge.report import RuleInfo, Severity
from imageforge.scan._model import Gate, VulnerabilityResults
from imageforge.vuln import SEVERITIES, Finding, Upgrade, advice, finding_json, reaches

__all__ = ["SEVERITY_STYLE", "VulnSection", "report_severity", "security_severity"]

SEVERITY_STYLE = {
    "CRITICAL": "bold red",
    "HIGH": "red",
    "MEDIUM": "yellow",
    "LOW": "blue",
    "UNKNOWN": "dim",
}
# GitHub code scanning ranks results by a rule's "security-severity" (a CVSS-like
# number); without a CVSS score, a value inside the label's band (as trivy writes).
_BAND = {"CRITICAL": 9.5, "HIGH": 8.0, "MEDIUM": 5.5, "LOW": 2.0, "UNKNOWN": 0.0}


def report_severity(label: str) -> Severity:
    """SARIF levels as trivy sets them: CRITICAL and HIGH are errors, MEDIUM warnings,
    the rest notes."""
    if label in ("CRITICAL", "HIGH"):
        return Severity.ERROR
    if label == "MEDIUM":
        return Severity.WARNING
    return Severity.INFO


def security_severity(f: Finding) -> str:
    score = f.max_cvss
    return f"{score if score is not None else _BAND.get(f.severity, 0.0):.1f}"


def _where(f: Finding, target: str) -> str:
    if f.package.evidence:
        return "/" + f.package.evidence[0].path
    return target


def _message(f: Finding) -> str:
    pkg = f.package
    lines = [
        f"Package: {pkg.name}",
        f"Installed Version: {pkg.version}",
        f"Vulnerability {f.id}",
        f"Severity: {f.severity}",
        f"Fixed Version: {f.fixed_version or '(none)'}",
    ]
    if f.layer is not None and f.layer.created_by:
        lines.append(f"Layer {f.layer.number}: {f.layer.created_by}")
    if f.urls:
        lines.append(f"Link: {f.urls[0]}")
    return "\n".join(lines)


class VulnSection:
    """See the module docstring."""

    kind = "vulnerabilities"

    def __init__(self, results: VulnerabilityResults) -> None:
        self.results = results

    def to_json(self) -> list[dict[str, Any]]:
        return [finding_json(f) for f in self.results.findings]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.results.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def failing(self, gate: Gate) -> int:
        if not gate.active:
            return 0
        if not gate.threshold:
            return len(self.results.findings)  # --exit-code alone: any finding fails
        return sum(
            1
            for f in self.results.findings
            if reaches(f, severities=gate.severities, min_cvss=gate.min_cvss)
        )

    # -- SARIF -------------------------------------------------------------------------
    def sarif(self, target: str) -> tuple[list[RuleInfo], list[ReportFinding], dict[str, Any]]:
        rules: dict[str, RuleInfo] = {}
        extra: dict[str, dict[str, Any]] = {}
        results: list[ReportFinding] = []
        for f in self.results.findings:
            sev = report_severity(f.severity)
            if f.id not in rules:
                title = f.summary or f.id
                rules[f.id] = RuleInfo(
                    id=f.id,
                    name="PackageVulnerability",
                    severity=sev,
                    title=title,
                    help="\n".join(
                        [f"Vulnerability {f.id}", f"Severity: {f.severity}", title]
                        + ([f"Aliases: {', '.join(f.aliases)}"] if f.aliases else [])
                    ),
                    help_uri=f.urls[0] if f.urls else None,
                )
                extra[f.id] = {
                    "security-severity": security_severity(f),
                    "tags": ["vulnerability", "security", f.severity],
                    "precision": "very-high",
                }
            results.append(
                ReportFinding(
                    rule_id=f.id,
                    severity=sev,
                    message=_message(f),
                    location=Location(_where(f, target).lstrip("/") or target, 1),
                    hint=advice(f),
                )
            )
        return list(rules.values()), results, extra

    # -- table -------------------------------------------------------------------------
    def table(self, console: Console) -> None:
        r = self.results
        counts = self.counts()
        total = len(r.findings)
        parts = ", ".join(f"{s}: {counts[s]}" for s in reversed(SEVERITIES))
        line = Text(f"Vulnerabilities: {total} ({parts})", style="bold")
        notes = []
        if r.suppressed:
            notes.append(f"{len(r.suppressed)} suppressed")
        if r.filtered:
            notes.append(f"{r.filtered} below the threshold")
        if r.owned:
            n = len(r.owned)
            notes.append(f"{n} language package{'s' if n != 1 else ''} left to their OS package")
        if notes:
            line.append(f"  [{'; '.join(notes)}]", style="dim")
        console.print(line)
        groups: dict[str, list[Finding]] = {}
        for f in r.findings:
            groups.setdefault(f.package.id, []).append(f)
        by_package = {u.package.id: u for u in r.upgrades}
        for group in groups.values():
            console.print()
            _package_table(console, group, by_package.get(group[0].package.id))
        if r.informational:
            console.print()
            console.print(Text("Informational (not vulnerabilities):", style="bold"))
            for f in r.informational:
                console.print(
                    f"  {f.id}  {f.package.name} {f.package.version}  "
                    f"{f.informational}: {f.summary}",
                    markup=False,
                )
        if r.suppressed:
            console.print()
            console.print(Text("Suppressed:", style="bold"))
            for f in r.suppressed:
                rule = f.suppressed
                assert rule is not None
                why = rule.justification or rule.reason or "no reason given"
                console.print(
                    f"  {f.id}  {f.package.name} {f.package.version}  by {rule.origin}: {why}",
                    markup=False,
                )


def _package_table(console: Console, group: list[Finding], upgrade: Upgrade | None) -> None:
    pkg = group[0].package
    head = Text()
    head.append(f"{pkg.name} {pkg.version}", style="bold")
    head.append(f" ({pkg.type})")
    if group[0].query.via:
        head.append(f", {group[0].query.via}", style="dim")
    if pkg.evidence:
        head.append(f"  /{pkg.evidence[0].path}", style="dim")
    console.print(head)
    layer = group[0].layer
    if layer is not None:
        where = f"layer {layer.number}" if layer.number else f"layer {layer.digest}"
        console.print(Text(f"  {where}: {layer.created_by or layer.digest}", style="cyan"))
    if upgrade is not None and upgrade.advice:
        fixes = f"fixes {len(upgrade.fixes)} of {len(upgrade.fixes) + len(upgrade.unfixed)}"
        console.print(Text(f"  {upgrade.advice} ({fixes})", style="green"))
    table = Table(box=None, pad_edge=False, padding=(0, 1))
    for column in ("ID", "SEVERITY", "CVSS", "STATUS", "FIXED IN", "TITLE"):
        table.add_column(column, no_wrap=column != "TITLE")
    for f in group:
        score = f.max_cvss
        table.add_row(
            f.id,
            Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
            "" if score is None else f"{score:.1f}",
            f.status,
            f.fixed_version or "",
            f.summary,
        )
    console.print(table)
