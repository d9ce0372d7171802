"""The JSON contract of findings, which the scan command, the registry and ``promote``
read: a top-level ``vulnerabilities`` list whose entries carry at least ``id``,
``aliases``, ``package`` (``name``, ``version``, ``purl``, ``ecosystem``), ``severity``,
``cvss``, ``fixedVersion``, ``layer`` and ``status`` (``advice``: what to upgrade to;
``layer``: the image layer that brought the package in, with its history entry, or
null for a directory); ``informational`` (RustSec
unmaintained and the like) and ``suppressed`` (with what suppressed each, and why) are
lists of the same shape beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imageforge.vuln._advice import advice
from imageforge.vuln._match import Finding, LayerOrigin

__all__ = ["finding_json", "findings_document", "layer_json"]


def layer_json(layer: LayerOrigin) -> dict[str, Any]:
    return {
        "digest": layer.digest,
        "diffId": layer.diff_id,
        "number": layer.number,
        "createdBy": layer.created_by,
    }


def finding_json(f: Finding) -> dict[str, Any]:
    pkg = f.package
    out: dict[str, Any] = {
        "id": f.id,
        "aliases": list(f.aliases),
        "package": {
            "name": pkg.name,
            "version": pkg.version,
            "purl": pkg.purl,
            "ecosystem": f.query.ecosystem + (f":{f.query.release}" if f.query.release else ""),
            "type": pkg.type,
        },
        "severity": f.severity,
        "cvss": [
            {"version": c.version, "vector": c.vector, "baseScore": c.base_score} for c in f.cvss
        ],
        "fixedVersion": f.fixed_version,
        "advice": advice(f),
        "layer": None if f.layer is None else layer_json(f.layer),
        "status": f.status,
        "title": f.summary,
        "sources": list(f.sources),
        "urls": list(f.urls),
    }
    if f.query.via:
        out["matchedBy"] = f.query.via
    if f.related:
        out["related"] = list(f.related)
    if f.note:
        out["note"] = f.note
    if f.informational:
        out["informational"] = f.informational
    if f.suppressed is not None:
        rule = f.suppressed
        out["suppressedBy"] = {
            "origin": rule.origin,
            "reason": rule.reason,
            "expires": rule.expires.isoformat() if rule.expires else None,
            "vexStatus": rule.vex_status,
            "justification": rule.justification,
        }
    return out


def findings_document(
    vulnerabilities: Sequence[Finding],
    informational: Sequence[Finding] = (),
    suppressed: Sequence[Finding] = (),
) -> dict[str, Any]:
    return {
        "vulnerabilities": [finding_json(f) for f in vulnerabilities],
        "informational": [finding_json(f) for f in informational],
        "suppressed": [finding_json(f) for f in suppressed],
    }
