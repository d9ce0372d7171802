"""The text writer: ``file:line:col: severity IDnnn message``, then the source line
with a caret under the column and the advice, like a compiler."""

from __future__ import annotations

from typing import TextIO

from imageforge.report._finding import Report, Severity

__all__ = ["format_text", "write_text"]


def format_text(report: Report) -> str:
    lines: list[str] = []
    for f in report.findings:
        lines.append(f"{f.location}: {f.severity.value} {f.rule_id}: {f.message}")
        if f.snippet is not None and f.location.line > 0:
            number = str(f.location.line)
            lines.append(f"  {number} | {f.snippet.rstrip()}")
            if f.location.column > 0:  # column 0: about the whole line, no caret
                pad = " " * (f.location.column - 1)
                lines.append(f"  {' ' * len(number)} | {pad}^")
        if f.hint:
            lines.append(f"  = help: {f.hint}")
    counts = report.counts()
    total = len(report.findings)
    parts = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s])
    files = len(report.files)
    noun = "file" if files == 1 else "files"
    if total:
        lines.append(f"{total} finding{'s' if total != 1 else ''} in {files} {noun} ({parts})")
    else:
        lines.append(f"no findings in {files} {noun}")
    return "\n".join(lines) + "\n"


def write_text(report: Report, out: TextIO) -> None:
    out.write(format_text(report))
