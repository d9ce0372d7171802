"""CI report writers: JUnit XML (one test case per file, a failure per finding; built
with :mod:`xml.etree`) and the Code Climate JSON that GitLab's code-quality widget
reads (a fingerprint per finding so GitLab can follow it between runs)."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from typing import Any, TextIO

from imageforge.report._finding import Report, Severity

__all__ = ["to_codeclimate", "write_codeclimate", "write_junit"]

_CODECLIMATE = {
    Severity.ERROR: "critical",
    Severity.WARNING: "major",
    Severity.INFO: "minor",
    Severity.STYLE: "info",
}


def write_junit(report: Report, out: TextIO) -> None:
    names = list(dict.fromkeys([*report.files, *(f.location.file for f in report.findings)]))
    suite = ET.Element(
        "testsuite",
        name=report.tool,
        tests=str(len(names)),
        failures=str(len({f.location.file for f in report.findings})),
    )
    for name in names:
        case = ET.SubElement(suite, "testcase", classname=report.tool, name=name)
        for f in report.findings:
            if f.location.file != name:
                continue
            failure = ET.SubElement(
                case, "failure", type=f.rule_id, message=f"{f.rule_id}: {f.message}"
            )
            failure.text = f"{name}:{f.location.line}:{f.location.column} {f.severity.value}"
    root = ET.Element("testsuites")
    root.append(suite)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode") + "\n")


def to_codeclimate(report: Report) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for f in report.findings:
        key = f"{f.rule_id}\0{f.location.file}\0{f.location.line}\0{f.message}"
        issues.append(
            {
                "type": "issue",
                "check_name": f.rule_id,
                "description": f.message,
                "categories": ["Style" if f.severity is Severity.STYLE else "Bug Risk"],
                "severity": _CODECLIMATE[f.severity],
                "location": {"path": f.location.file, "lines": {"begin": f.location.line}},
                "fingerprint": hashlib.sha256(key.encode()).hexdigest(),
            }
        )
    return issues


def write_codeclimate(report: Report, out: TextIO) -> None:
    out.write(json.dumps(to_codeclimate(report), indent=2) + "\n")
