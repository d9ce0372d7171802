"""The Checkstyle XML writer (``<checkstyle><file name=...><error .../></file>``), read
by Jenkins, GitLab and most CI report plugins; built with :mod:`xml.etree`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TextIO

from imageforge.report._finding import Report, Severity

__all__ = ["write_checkstyle"]

_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
    Severity.STYLE: "info",
}


def write_checkstyle(report: Report, out: TextIO) -> None:
    root = ET.Element("checkstyle", version="4.3")
    files: dict[str, ET.Element] = {}
    for name in report.files:
        files[name] = ET.SubElement(root, "file", name=name)
    for f in report.findings:
        name = f.location.file
        if name not in files:
            files[name] = ET.SubElement(root, "file", name=name)
        ET.SubElement(
            files[name],
            "error",
            line=str(f.location.line),
            column=str(f.location.column),
            severity=_LEVEL[f.severity],
            message=f.message,
            source=f.rule_id,
        )
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode") + "\n")
