"""The scan for people: what was scanned, then each kind of result (vulnerabilities
grouped by package, each group saying which layer and instruction brought the package
in and the upgrade that fixes it; severities coloured on a terminal), then the gate."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from imageforge.scan._database import age_text
from imageforge.scan._model import ScanReport

__all__ = ["print_table"]


def print_table(report: ScanReport, console: Console) -> None:
    s = report.source
    head = Text(f"{s.name}", style="bold")
    head.append(f" ({s.kind}", style="")
    if report.distro is not None:
        d = report.distro
        head.append(f", {d.pretty_name or (d.id + ' ' + (d.version_id or ''))}")
    head.append(f", {len(report.sbom.packages)} packages)")
    console.print(head)
    if s.digest:
        console.print(Text(f"digest {s.digest}", style="dim"))
    db = report.database
    if db is not None:
        console.print(
            Text(
                f"database updated {db.updated_at} ({age_text(db.age_seconds)} ago)"
                + (", STALE" if db.stale else ""),
                style="yellow" if db.stale else "dim",
            )
        )
    for section in report.sections:
        console.print()
        section.table(console)
    gate = report.gate
    failing = report.failing()
    if gate.active or failing:
        console.print()
        if failing:
            what = "finding reaches" if failing == 1 else "findings reach"
            threshold = "the threshold" if gate.active else "the licence policy"
            text = f"FAILED: {failing} {what} {threshold} (exit {gate.code})"
            console.print(Text(text, style="bold red"))
        else:
            console.print(Text("PASSED: nothing reaches the threshold", style="bold green"))
