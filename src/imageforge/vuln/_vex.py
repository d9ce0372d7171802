"""VEX in: OpenVEX (v0.2.0, and v0.0.x's plain-string vulnerability) and CycloneDX VEX
(a BOM's ``vulnerabilities`` with ``analysis``), read into suppression rules.

A statement suppresses when it says the product is not affected: OpenVEX ``status``
``not_affected`` (its ``justification`` and ``impact_statement`` are kept) or ``fixed``;
CycloneDX ``analysis.state`` ``not_affected``, ``false_positive`` or ``resolved``. Other
statuses (``affected``, ``under_investigation``, ``exploitable``, ``in_triage``) suppress
nothing. A statement applies to the packages its ``subcomponents`` name by purl; without
subcomponents, to the packages its ``products`` name by purl, and to every package when a
product is the image itself (``pkg:oci/...``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, NotFound
from imageforge.vuln._suppress import IgnoreRule

__all__ = ["load_cyclonedx_vex", "load_openvex", "load_vex"]

_OPENVEX_SUPPRESS = {"not_affected", "fixed"}
_CDX_SUPPRESS = {"not_affected", "false_positive", "resolved"}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"{path} is not a readable JSON VEX document: {exc}") from None


def _ids(items: Any) -> list[str]:
    out = []
    for item in items or ():
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            ident = item.get("@id") or item.get("id")
            if isinstance(ident, str):
                out.append(ident)
            for purl in ((item.get("identifiers") or {}).get("purl"),):
                if isinstance(purl, str):
                    out.append(purl)
    return out


def _targets(products: list[str], subcomponents: list[str]) -> tuple[str, ...] | None:
    """The package purls a statement applies to; None: every package."""
    if subcomponents:
        return tuple(subcomponents)
    if any(p.startswith("pkg:oci/") for p in products) or not products:
        return None
    return tuple(products)


def load_openvex(path: Path, doc: Any = None) -> list[IgnoreRule]:
    doc = _json(path) if doc is None else doc
    statements = doc.get("statements") if isinstance(doc, dict) else None
    if not isinstance(statements, list):
        raise InvalidArgument(f"{path} is not an OpenVEX document (no statements)")
    rules = []
    for n, st in enumerate(statements):
        if not isinstance(st, dict) or st.get("status") not in _OPENVEX_SUPPRESS:
            continue
        vuln = st.get("vulnerability")
        names: list[str] = []
        if isinstance(vuln, str):
            names = [vuln]
        elif isinstance(vuln, dict):
            names = [
                v for v in [vuln.get("name"), *(vuln.get("aliases") or [])] if isinstance(v, str)
            ]
        targets = _targets(_ids(st.get("products")), _ids(st.get("subcomponents")))
        if not targets:
            targets = None
        for name in names:
            rules.append(
                IgnoreRule(
                    name,
                    f"{path} (statements[{n}])",
                    str(st.get("impact_statement") or st.get("justification") or st["status"]),
                    packages=targets or (),
                    vex_status=st["status"],
                    justification=st.get("justification"),
                )
            )
    return rules


def load_cyclonedx_vex(path: Path, doc: Any = None) -> list[IgnoreRule]:
    doc = _json(path) if doc is None else doc
    vulns = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(vulns, list):
        raise InvalidArgument(f"{path} is not a CycloneDX VEX document (no vulnerabilities)")
    refs: dict[str, str] = {}
    for comp in doc.get("components") or ():
        if (
            isinstance(comp, dict)
            and isinstance(comp.get("bom-ref"), str)
            and isinstance(comp.get("purl"), str)
        ):
            refs[comp["bom-ref"]] = comp["purl"]
    rules = []
    for n, v in enumerate(vulns):
        analysis = v.get("analysis") if isinstance(v, dict) else None
        if not isinstance(analysis, dict) or analysis.get("state") not in _CDX_SUPPRESS:
            continue
        affects = [a.get("ref") for a in v.get("affects") or () if isinstance(a, dict)]
        purls = [refs.get(r, r) for r in affects if isinstance(r, str)]
        packages = tuple(p for p in purls if p.startswith("pkg:") and not p.startswith("pkg:oci/"))
        ids = [
            v.get("id"),
            *[(r or {}).get("id") for r in v.get("references") or () if isinstance(r, dict)],
        ]
        for vid in (i for i in ids if isinstance(i, str)):
            rules.append(
                IgnoreRule(
                    vid,
                    f"{path} (vulnerabilities[{n}])",
                    str(
                        analysis.get("detail") or analysis.get("justification") or analysis["state"]
                    ),
                    packages=packages,
                    vex_status=analysis["state"],
                    justification=analysis.get("justification"),
                )
            )
    return rules


def load_vex(path: Path) -> list[IgnoreRule]:
    """OpenVEX or CycloneDX VEX, told apart by their content."""
    doc = _json(path)
    if isinstance(doc, dict) and "statements" in doc:
        return load_openvex(path, doc)
    if isinstance(doc, dict) and (doc.get("bomFormat") == "CycloneDX" or "vulnerabilities" in doc):
        return load_cyclonedx_vex(path, doc)
    raise InvalidArgument(
        f"{path} is neither OpenVEX nor CycloneDX VEX", hint="see openvex.dev or cyclonedx.org"
    )
