"""The secret, image-configuration and licence results of a report as
:class:`~imageforge.scan._model.Section` s: their JSON lists (``secrets``,
``misconfigurations``, ``licenses``), counts per severity, the gate, SARIF and the
table.

Secrets and misconfigurations fail the gate as vulnerabilities do: a result whose
severity is in ``--severity`` (or whose severity's band reaches ``--min-cvss``), any
result with ``--exit-code`` alone. Licences fail by their own policy (``[scan.license]``
deny and fail-on), gate or not: a licence has no CVSS, and every package has one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from imageforge import __version__
from imageforge.licenses import LicenseResult
from imageforge.misconfig import MisconfigResult
from imageforge.report import SECURITY_SEVERITIES, Report, RuleInfo, security_properties
from imageforge.report import Finding as ReportFinding
from imageforge.scan._model import Gate
from imageforge.scan._vuln_section import SEVERITY_STYLE
from imageforge.secrets import SecretScanResult

__all__ = ["LicenseSection", "MisconfigSection", "SecretSection"]


def _counts(severities: Sequence[str]) -> dict[str, int]:
    out = dict.fromkeys(SECURITY_SEVERITIES, 0)
    for s in severities:
        out[s] += 1
    return out


def _reaches(severity: str, gate: Gate) -> bool:
    if not gate.threshold:
        return True  # --exit-code alone: any result fails
    if gate.severities is not None and severity in gate.severities:
        return True
    if gate.min_cvss is not None:
        return float(security_properties(severity)["security-severity"]) >= gate.min_cvss
    return False


def _failing(severities: Sequence[str], gate: Gate) -> int:
    if not gate.active:
        return 0
    return sum(1 for s in severities if _reaches(s, gate))


def _heading(console: Console, title: str, counts: dict[str, int], notes: list[str]) -> None:
    total = sum(counts.values())
    parts = ", ".join(f"{s}: {counts[s]}" for s in reversed(SECURITY_SEVERITIES))
    line = Text(f"{title}: {total} ({parts})", style="bold")
    if notes:
        line.append(f"  [{'; '.join(notes)}]", style="dim")
    console.print(line)


def _severity(text: str) -> Text:
    return Text(text, style=SEVERITY_STYLE.get(text, ""))


class _Rated(Protocol):
    @property
    def severity(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


class _Results(Protocol):
    @property
    def findings(self) -> Sequence[_Rated]: ...

    def to_report(self, version: str) -> Report: ...


_R = TypeVar("_R", bound=_Results)


class _RatedSection(Generic[_R]):
    """A scanner's findings, each with a severity: its JSON list, counts, the gate by
    severity and SARIF through the result's shared report."""

    def __init__(self, result: _R) -> None:
        self.result = result

    def to_json(self) -> list[dict[str, Any]]:
        return [f.to_json() for f in self.result.findings]

    def counts(self) -> dict[str, int]:
        return _counts([f.severity for f in self.result.findings])

    def failing(self, gate: Gate) -> int:
        return _failing([f.severity for f in self.result.findings], gate)

    def sarif(self, target: str) -> tuple[list[RuleInfo], list[ReportFinding], dict[str, Any]]:
        report = self.result.to_report(__version__)
        return list(report.rules), list(report.findings), {}


class SecretSection(_RatedSection[SecretScanResult]):
    """A secret scan's findings."""

    kind = "secrets"

    def table(self, console: Console) -> None:
        r = self.result
        notes = [f"{r.stats.files} text files read"]
        if r.suppressed:
            notes.append(f"{len(r.suppressed)} suppressed")
        _heading(console, "Secrets", self.counts(), notes)
        if not r.findings:
            return
        table = Table(box=None, pad_edge=False, padding=(0, 1))
        for column in ("SEVERITY", "RULE", "WHERE", "LAYER", "MATCH"):
            table.add_column(column, no_wrap=column in ("SEVERITY", "RULE"))
        for f in r.findings:
            layer = f.layer.describe() if f.layer is not None else ""
            if f.hidden is not None:
                layer += f"; {f.hidden.describe()}"
            table.add_row(_severity(f.severity), f.rule_id, f.where, layer, f.match)
        console.print(table)


class MisconfigSection(_RatedSection[MisconfigResult]):
    """An image's configuration findings."""

    kind = "misconfigurations"

    def table(self, console: Console) -> None:
        r = self.result
        notes = [f"{len(r.suppressed)} suppressed"] if r.suppressed else []
        _heading(console, "Image configuration", self.counts(), notes)
        if not r.findings:
            return
        table = Table(box=None, pad_edge=False, padding=(0, 1))
        for column in ("ID", "SEVERITY", "FINDING", "LAYER"):
            table.add_column(column, no_wrap=column in ("ID", "SEVERITY"))
        for f in r.findings:
            layer = f.layer.describe() if f.layer is not None else ""
            table.add_row(f.id, _severity(f.severity), f.message, layer)
        console.print(table)


class LicenseSection(_RatedSection[LicenseResult]):
    """Every package's licence; the policy's failures fail the scan."""

    kind = "licenses"

    def failing(self, gate: Gate) -> int:
        return len(self.result.failed)

    def table(self, console: Console) -> None:
        r = self.result
        by_category: dict[str, int] = {}
        for f in r.findings:
            by_category[f.category] = by_category.get(f.category, 0) + 1
        summary = ", ".join(f"{c} {n}" for c, n in sorted(by_category.items()))
        line = Text(f"Licences: {len(r.findings)} packages ({summary or 'none'})", style="bold")
        if r.fail_on:
            line.append(f"  [failing: {', '.join(r.fail_on)}]", style="dim")
        console.print(line)
        shown = [f for f in r.findings if f.fails or f.category == "unknown"]
        if shown:
            table = Table(box=None, pad_edge=False, padding=(0, 1))
            for column in ("PACKAGE", "VERSION", "LICENCE", "CATEGORY", "VERDICT"):
                table.add_column(column, no_wrap=column != "LICENCE")
            for f in shown:
                verdict = Text("FAILS", style="bold red") if f.fails else Text("")
                table.add_row(f.package, f.version, f.expression, f.category, verdict)
            console.print(table)
        if r.unknown:
            console.print(Text(f"unknown licences: {', '.join(r.unknown)}", style="dim"))
