"""The SARIF 2.1.0 writer (OASIS standard), for code-scanning services.

Levels: error -> ``error``, warning -> ``warning``, info and style -> ``note``.
Hand-written: the format is a JSON shape, and the libraries that model it bring
nothing a dict does not; the tests validate the output against the official schema.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, TextIO

from imageforge.report._finding import Finding, Report, Severity

__all__ = ["SARIF_SCHEMA_URI", "SARIF_VERSION", "to_sarif", "write_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.STYLE: "note",
}


def _uri(path: str) -> str:
    # SARIF wants URI references; relative paths stay relative (to %SRCROOT%).
    posix = PurePosixPath(path.replace("\\", "/")).as_posix()
    return posix.replace("%", "%25").replace(" ", "%20").replace("#", "%23").replace("?", "%3F")


def _result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    text = f.message if not f.hint else f"{f.message} {f.hint}"
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "level": _LEVEL[f.severity],
        "message": {"text": text},
        "properties": {"severity": f.severity.value, **f.properties},
    }
    if f.rule_id in rule_index:
        result["ruleIndex"] = rule_index[f.rule_id]
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.location.file)}}
    if f.location.line > 0:
        region: dict[str, Any] = {"startLine": f.location.line}
        if f.location.column > 0:
            region["startColumn"] = f.location.column
        if f.end_line > f.location.line:
            region["endLine"] = f.end_line
        if f.snippet is not None:
            region["snippet"] = {"text": f.snippet}
        physical["region"] = region
    result["locations"] = [{"physicalLocation": physical}]
    return result


def to_sarif(report: Report) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    for i, rule in enumerate(report.rules):
        rule_index[rule.id] = i
        entry: dict[str, Any] = {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.title},
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            "properties": {"severity": rule.severity.value, **rule.properties},
        }
        if rule.help:
            entry["fullDescription"] = {"text": rule.help}
            entry["help"] = {"text": rule.help}
        if rule.help_uri:
            entry["helpUri"] = rule.help_uri
        rules.append(entry)
    driver: dict[str, Any] = {
        "name": report.tool,
        "version": report.version,
        "semanticVersion": report.version,
        "rules": rules,
    }
    if report.information_uri:
        driver["informationUri"] = report.information_uri
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "artifacts": [{"location": {"uri": _uri(p)}} for p in report.files],
        "results": [_result(f, rule_index) for f in report.findings],
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def write_sarif(report: Report, out: TextIO) -> None:
    out.write(json.dumps(to_sarif(report), indent=2) + "\n")
