"""SARIF 2.1.0 of a scan, through :mod:`imageforge.report`'s writer: one rule per
vulnerability id (with GitHub's ``security-severity``), one result per finding located at
the file the package was found by (line 1, as trivy does), its message and upgrade
advice."""

from __future__ import annotations

from typing import Any

from imageforge import __version__
from imageforge.report import Report, to_sarif
from imageforge.scan._model import ScanReport

__all__ = ["INFORMATION_URI", "to_sarif_document"]

INFORMATION_URI = "https://github.com/imageforge/imageforge"


def to_sarif_document(report: ScanReport) -> dict[str, Any]:
    rules = []
    findings = []
    extra: dict[str, Any] = {}
    for section in report.sections:
        r, f, e = section.sarif(report.source.name)
        rules.extend(r)
        findings.extend(f)
        extra.update(e)
    files = tuple(dict.fromkeys(f.location.file for f in findings))
    doc = to_sarif(
        Report(
            tool="imageforge",
            version=__version__,
            rules=tuple(rules),
            findings=tuple(findings),
            files=files,
            information_uri=INFORMATION_URI,
        )
    )
    run = doc["runs"][0]
    for rule in run["tool"]["driver"]["rules"]:
        rule["properties"].update(extra.get(rule["id"], {}))
    run["properties"] = {
        "target": report.source.name,
        "targetKind": report.source.kind,
        "digest": report.source.digest,
    }
    return doc
