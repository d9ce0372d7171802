"""The scan's JSON: what was scanned, with which database, and one list per kind of
result (``vulnerabilities`` now; ``secrets``, ``misconfigurations`` and ``licenses``
beside it as those scanners join), plus what was suppressed and why, the upgrade that
fixes each package, counts, and warnings.

``schema`` names the version of this document (``imageforge-scan/1``); the entries of
``vulnerabilities`` are the findings contract of :func:`imageforge.vuln.finding_json`."""

from __future__ import annotations

from typing import Any

from imageforge.scan._model import ScanReport
from imageforge.vuln import finding_json

__all__ = ["SCHEMA", "to_json"]

SCHEMA = "imageforge-scan/1"


def _gate(report: ScanReport) -> dict[str, Any]:
    g = report.gate
    return {
        "severities": sorted(g.severities) if g.severities is not None else None,
        "minCvss": g.min_cvss,
        "ignoreUnfixed": g.ignore_unfixed,
        "exitCode": g.exit_code,
        "failing": report.failing(),
        "passed": report.exit_code == 0,
    }


def to_json(report: ScanReport) -> dict[str, Any]:
    s, d, db = report.source, report.distro, report.database
    vuln = report.vulnerabilities
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "target": {
            "kind": s.kind,
            "name": s.name,
            "digest": s.digest,
            "architecture": s.architecture,
            "os": s.os,
            "created": s.created,
        },
        "distro": None
        if d is None
        else {"id": d.id, "versionId": d.version_id, "prettyName": d.pretty_name},
        "database": None
        if db is None
        else {
            "updatedAt": db.updated_at,
            "ageSeconds": db.age_seconds,
            "stale": db.stale,
            "sources": [s.name for s in db.sources],
        },
        "packages": len(report.sbom.packages),
        "scanners": [section.kind for section in report.sections],
    }
    for section in report.sections:
        doc[section.kind] = section.to_json()
    doc["informational"] = [finding_json(f) for f in vuln.informational]
    doc["suppressed"] = [finding_json(f) for f in vuln.suppressed]
    doc["upgrades"] = [
        {
            "package": {
                "name": u.package.name,
                "version": u.package.version,
                "purl": u.package.purl,
            },
            "to": u.to,
            "advice": u.advice,
            "fixes": list(u.fixes),
            "unfixed": list(u.unfixed),
        }
        for u in vuln.upgrades
    ]
    doc["summary"] = {
        section.kind: {"total": sum(section.counts().values()), "bySeverity": section.counts()}
        for section in report.sections
    }
    doc["summary"]["suppressed"] = len(vuln.suppressed)
    doc["summary"]["belowThreshold"] = vuln.filtered
    doc["gate"] = _gate(report)
    doc["warnings"] = list(report.warnings)
    return doc
