"""The GitHub Actions writer: one workflow command per finding
(``::error file=...,line=...,col=...,title=ID::message``), which Actions shows as an
annotation on the line. Hand-written: the format is a single documented line."""

from __future__ import annotations

from typing import TextIO

from imageforge.report._finding import Report, Severity

__all__ = ["write_github"]

_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
    Severity.STYLE: "notice",
}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def write_github(report: Report, out: TextIO) -> None:
    for f in report.findings:
        loc = f.location
        props = [f"file={_prop(loc.file)}"]
        if loc.line:
            props.append(f"line={loc.line}")
        if loc.column:
            props.append(f"col={loc.column}")
        props.append(f"title={_prop(f.rule_id)}")
        out.write(f"::{_LEVEL[f.severity]} {','.join(props)}::{_data(f.message)}\n")
