"""VEX out: an OpenVEX (v0.2.0) document of a scan's findings, for the next scan (or
another tool) to read back.

One statement per finding: ``affected`` with the upgrade as ``action_statement`` (or
that no fix exists yet); a finding a VEX document said was ``not_affected`` (or
``fixed``) keeps that status and its justification; a risk accepted by an ignore rule
stays ``affected``, its reason and expiry in the action statement. The product is the
image (``pkg:oci/NAME@DIGEST``) or the scanned directory or SBOM, the subcomponent the
package (its purl). The document's ``@id`` and timestamp come from its content and the
target's creation time, so the same scan gives the same bytes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from packageurl import PackageURL

from imageforge import __version__
from imageforge.oci import rfc3339
from imageforge.sbom import created_time
from imageforge.scan._model import ScanReport
from imageforge.vuln import Finding, advice

__all__ = ["OPENVEX_CONTEXT", "to_openvex"]

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"


def _product(report: ScanReport) -> str:
    s = report.source
    if s.kind == "image" and s.digest:
        name = s.name.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0] or "image"
        return PackageURL(type="oci", name=name.lower(), version=s.digest).to_string()
    return s.name


def _statement(f: Finding, product: str, timestamp: str) -> dict[str, Any]:
    vulnerability: dict[str, Any] = {"name": f.id}
    if f.aliases:
        vulnerability["aliases"] = list(f.aliases)
    st: dict[str, Any] = {
        "vulnerability": vulnerability,
        "timestamp": timestamp,
        "products": [{"@id": product, "subcomponents": [{"@id": f.package.purl}]}],
    }
    rule = f.suppressed
    if rule is not None and rule.vex_status in ("not_affected", "fixed"):
        st["status"] = rule.vex_status
        if rule.vex_status == "not_affected":
            if rule.justification:
                st["justification"] = rule.justification
            st["impact_statement"] = rule.reason or rule.justification or "not affected"
        return st
    st["status"] = "affected"
    if rule is not None:
        until = f" until {rule.expires.isoformat()}" if rule.expires else ""
        st["action_statement"] = (
            f"risk accepted{until}: {rule.reason or 'no reason given'} ({rule.origin})"
        )
    else:
        st["action_statement"] = advice(f) or "no fixed version is available yet"
    return st


def to_openvex(report: ScanReport) -> dict[str, Any]:
    timestamp = rfc3339(created_time(report.sbom))
    product = _product(report)
    vuln = report.vulnerabilities
    statements = [_statement(f, product, timestamp) for f in [*vuln.findings, *vuln.suppressed]]
    digest = hashlib.sha256(json.dumps([product, statements], sort_keys=True).encode()).hexdigest()
    return {
        "@context": OPENVEX_CONTEXT,
        "@id": f"https://imageforge.invalid/vex/{digest}",
        "author": "imageforge",
        "timestamp": timestamp,
        "version": 1,
        "tooling": f"imageforge {__version__}",
        "statements": statements,
    }
