"""A CycloneDX 1.6 vulnerability disclosure report (VDR): the target's SBOM as
``imageforge sbom --format cyclonedx-json`` writes it, with a ``vulnerabilities`` list
whose entries say what affects which component (``affects`` refs are the components'
bom-refs), its ratings (each CVSS vector with its base score, else the source's label),
the upgrade that fixes it (``recommendation``) and, for a finding a VEX statement or an
accepted risk suppressed, the ``analysis``: VEX ``not_affected`` with its justification
in CycloneDX's terms, an ignore rule as ``exploitable`` with response ``will_not_fix``
and its reason (the package is affected; the risk was accepted)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from imageforge.sbom import to_cyclonedx
from imageforge.scan._model import ScanReport
from imageforge.vuln import Finding, advice

__all__ = ["to_cyclonedx_vdr"]

_METHOD = {"2.0": "CVSSv2", "3.0": "CVSSv3", "3.1": "CVSSv31", "4.0": "CVSSv4"}
# OpenVEX justifications in CycloneDX's words
_JUSTIFICATION = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "protected_by_mitigating_control",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
_CDX_JUSTIFICATIONS = {
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
}
_CDX_STATES = {
    "resolved",
    "resolved_with_pedigree",
    "exploitable",
    "in_triage",
    "false_positive",
    "not_affected",
}


def _ratings(f: Finding) -> list[dict[str, Any]]:
    ratings: list[dict[str, Any]] = [
        {
            "score": c.base_score,
            "severity": _cdx_severity(c.base_score),
            "method": _METHOD.get(c.version, "other"),
            "vector": c.vector,
        }
        for c in f.cvss
    ]
    if not ratings:
        ratings.append({"severity": f.severity.lower(), "method": "other"})
    return ratings


def _cdx_severity(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "none"


def _analysis(f: Finding) -> dict[str, Any] | None:
    rule = f.suppressed
    if rule is None:
        return None
    if rule.vex_status is not None:
        state = {"fixed": "resolved"}.get(rule.vex_status, rule.vex_status)
        if state not in _CDX_STATES:
            state = "not_affected"
        out: dict[str, Any] = {"state": state}
        justification = _JUSTIFICATION.get(rule.justification or "", rule.justification)
        if justification in _CDX_JUSTIFICATIONS:
            out["justification"] = justification
        out["detail"] = f"{rule.reason} ({rule.origin})"
        return out
    detail = f"risk accepted: {rule.reason or 'no reason given'} ({rule.origin})"
    if rule.expires is not None:
        detail += f", until {rule.expires.isoformat()}"
    return {"state": "exploitable", "response": ["will_not_fix"], "detail": detail}


def _vulnerability(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bom-ref": f"vuln:{f.id}:{f.package.id}",
        "id": f.id,
    }
    if f.aliases:
        out["references"] = [{"id": a, "source": {"name": a.split("-", 1)[0]}} for a in f.aliases]
    out["ratings"] = _ratings(f)
    if f.summary:
        out["description"] = f.summary
    recommendation = advice(f)
    if recommendation:
        out["recommendation"] = recommendation
    if f.urls:
        out["advisories"] = [{"url": u} for u in f.urls]
    analysis = _analysis(f)
    if analysis is not None:
        out["analysis"] = analysis
    out["affects"] = [
        {"ref": f.package.id, "versions": [{"version": f.package.version, "status": "affected"}]}
    ]
    props = [{"name": "imageforge:status", "value": f.status}]
    if f.fixed_version:
        props.append({"name": "imageforge:fixedVersion", "value": f.fixed_version})
    if f.layer is not None:
        props.append({"name": "imageforge:layer", "value": f.layer.digest})
        if f.layer.created_by:
            props.append({"name": "imageforge:layer:createdBy", "value": f.layer.created_by})
    out["properties"] = props
    return out


def to_cyclonedx_vdr(report: ScanReport) -> str:
    doc = json.loads(to_cyclonedx(report.sbom))
    vuln = report.vulnerabilities
    doc["vulnerabilities"] = [_vulnerability(f) for f in [*vuln.findings, *vuln.suppressed]]
    # another document than the SBOM: its own serial number, from its content
    doc["serialNumber"] = "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(doc, sort_keys=True))
    )
    return json.dumps(doc, indent=2) + "\n"
