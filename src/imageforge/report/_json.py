"""The JSON writer: a stable, flat shape for scripts."""

from __future__ import annotations

import json
from typing import Any, TextIO

from imageforge.report._finding import Report

__all__ = ["to_json", "write_json"]


def to_json(report: Report) -> dict[str, Any]:
    counts = report.counts()
    return {
        "tool": report.tool,
        "version": report.version,
        "files": list(report.files),
        "summary": {s.value: n for s, n in counts.items()},
        "findings": [f.to_json() for f in report.findings],
    }


def write_json(report: Report, out: TextIO) -> None:
    out.write(json.dumps(to_json(report), indent=2) + "\n")
