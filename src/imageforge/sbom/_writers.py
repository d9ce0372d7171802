"""Renderings of an :class:`Sbom`: a table for people, imageforge's own JSON, SPDX 2.3
JSON and CycloneDX 1.6 JSON. Every rendering is deterministic: the same SBOM gives the
same bytes.

Time stamps (SPDX ``creationInfo.created``, CycloneDX ``metadata.timestamp``) come from
``SOURCE_DATE_EPOCH`` when it is set, else from the image's creation time, else they
are the Unix epoch (1970-01-01T00:00:00Z) — never the wall clock. The SPDX document is
plain JSON built here (the format is a JSON object whose fields are set one by one;
spdx-tools validates it in the tests); CycloneDX goes through cyclonedx-python-lib.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from imageforge import __version__
from imageforge.oci import rfc3339
from imageforge.sbom._licenses import normalize_license, spdx_expression
from imageforge.sbom._model import Package, RelationshipKind, Sbom

__all__ = [
    "FORMATS",
    "created_time",
    "render",
    "to_cyclonedx",
    "to_json",
    "to_spdx",
    "to_table",
]

TOOL = f"imageforge-{__version__}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def created_time(sbom: Sbom) -> datetime:
    """``SOURCE_DATE_EPOCH``, else the image's creation time, else the Unix epoch."""
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isdigit():
        return datetime.fromtimestamp(int(env), UTC)
    if sbom.source.created:
        try:
            when = datetime.fromisoformat(sbom.source.created.replace("Z", "+00:00"))
        except ValueError:
            return _EPOCH
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).replace(microsecond=0)
    return _EPOCH


# -- table ---------------------------------------------------------------------------
def to_table(sbom: Sbom) -> str:
    """NAME VERSION TYPE, one package a line, as syft's table."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("NAME", "VERSION", "TYPE"):
        table.add_column(column, no_wrap=True)
    for p in sbom.packages:
        table.add_row(p.name, p.version, p.type)
    out = io.StringIO()
    console = Console(file=out, width=250, highlight=False, emoji=False, color_system=None)
    if sbom.packages:
        console.print(table)
    else:
        console.print("No packages discovered", markup=False)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


# -- imageforge JSON -----------------------------------------------------------------
def _package_json(p: Package) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "version": p.version,
        "type": p.type,
        "purl": p.purl,
        "cpes": list(p.cpes),
        "licenses": list(p.licenses),
        "sourceName": p.source_name,
        "sourceVersion": p.source_version,
        "supplier": p.supplier,
        "locations": [{"path": "/" + e.path, "layer": e.layer} for e in p.evidence],
        "dependsOn": list(p.depends_on),
        "files": ["/" + f for f in p.files],
        "metadata": dict(sorted(p.metadata.items())),
    }


def to_json(sbom: Sbom) -> dict[str, Any]:
    """imageforge's own schema: source, distro, packages with every field, relationships
    (package ids), warnings."""
    s, d = sbom.source, sbom.distro
    return {
        "schema": "imageforge-sbom/1",
        "source": {
            "kind": s.kind,
            "name": s.name,
            "digest": s.digest,
            "configDigest": s.config_digest,
            "architecture": s.architecture,
            "os": s.os,
            "created": s.created,
        },
        "distro": None
        if d is None
        else {
            "id": d.id,
            "versionId": d.version_id,
            "prettyName": d.pretty_name,
            "idLike": list(d.id_like),
        },
        "packages": [_package_json(p) for p in sbom.packages],
        "relationships": [
            {"parent": r.parent, "child": r.child, "type": r.kind} for r in sbom.relationships
        ],
        "warnings": list(sbom.warnings),
    }


# -- SPDX 2.3 ------------------------------------------------------------------------
_OWNERSHIP_COMMENT = (
    f"{RelationshipKind.OWNERSHIP}: indicates that the parent package claims ownership of a "
    "child package since the parent metadata indicates overlap with a location that a "
    "cataloger found the child package by"
)


def _spdx_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")


def _root_id(sbom: Sbom) -> str:
    return "SPDXRef-Image" if sbom.source.kind == "image" else "SPDXRef-Directory"


def _package_spdx_id(p: Package) -> str:
    return f"SPDXRef-Package-{_spdx_id(p.type)}-{p.id}"


def _supplier(p: Package) -> str:
    if not p.supplier:
        return "NOASSERTION"
    name, _, email = p.supplier.partition("<")
    name = name.strip().replace("(", "[").replace(")", "]") or "unknown"
    email = email.rstrip(">").strip()
    return f"Organization: {name} ({email})" if email else f"Organization: {name}"


def to_spdx(sbom: Sbom) -> dict[str, Any]:
    """An SPDX 2.3 document: the image (or directory) is the described root package,
    which CONTAINS every package; DEPENDS_ON edges between packages."""
    s = sbom.source
    root = _root_id(sbom)
    identity = hashlib.sha256(
        "\0".join([s.kind, s.name, s.digest or "", *(p.id for p in sbom.packages)]).encode()
    ).hexdigest()
    root_pkg: dict[str, Any] = {
        "name": s.name,
        "SPDXID": root,
        "versionInfo": s.digest or "",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "supplier": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER" if s.kind == "image" else "FILE",
    }
    if not root_pkg["versionInfo"]:
        del root_pkg["versionInfo"]
    if s.digest:
        root_pkg["checksums"] = [
            {"algorithm": "SHA256", "checksumValue": s.digest.removeprefix("sha256:")}
        ]
    packages: list[dict[str, Any]] = [root_pkg]
    extracted: dict[str, str] = {}
    relationships: list[dict[str, str]] = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": root,
        }
    ]
    for p in sbom.packages:
        expression, refs = spdx_expression(p.licenses)
        extracted.update(refs)
        refs_out = [
            {
                "referenceCategory": "SECURITY",
                "referenceType": "cpe23Type",
                "referenceLocator": c,
            }
            for c in p.cpes
        ]
        refs_out.append(
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }
        )
        packages.append(
            {
                "name": p.name,
                "SPDXID": _package_spdx_id(p),
                "versionInfo": p.version,
                "supplier": _supplier(p),
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "sourceInfo": "found in "
                + ", ".join("/" + e.path for e in p.evidence)
                + f" ({p.type} cataloger)",
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": expression or "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "externalRefs": refs_out,
            }
        )
        relationships.append(
            {
                "spdxElementId": root,
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": _package_spdx_id(p),
            }
        )
    by_id = {p.id: p for p in sbom.packages}
    for r in sbom.relationships:
        if r.parent in by_id and r.child in by_id:
            edge = {
                "spdxElementId": _package_spdx_id(by_id[r.parent]),
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": _package_spdx_id(by_id[r.child]),
            }
            if r.kind == RelationshipKind.OWNERSHIP:  # as syft writes it
                edge["relationshipType"] = "OTHER"
                edge["comment"] = _OWNERSHIP_COMMENT
            relationships.append(edge)
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": s.name,
        "documentNamespace": f"https://imageforge.invalid/spdx/{s.kind}/"
        f"{_spdx_id(s.name) or 'unnamed'}-{identity[:32]}",
        "creationInfo": {
            "created": rfc3339(created_time(sbom)),
            "creators": [f"Tool: {TOOL}"],
            "licenseListVersion": "3.25",
        },
        "packages": packages,
        "relationships": relationships,
    }
    if extracted:
        doc["hasExtractedLicensingInfos"] = [
            {"licenseId": ref, "name": text, "extractedText": text}
            for ref, text in sorted(extracted.items())
        ]
    return doc


# -- CycloneDX 1.6 -------------------------------------------------------------------
def to_cyclonedx(sbom: Sbom) -> str:
    """A CycloneDX 1.6 JSON document (cyclonedx-python-lib): metadata.component is the
    image (or directory); one component per package with purl, CPE, licenses and
    ``imageforge:`` properties (type, each location and its layer); dependencies."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    s = sbom.source
    root = Component(
        name=s.name,
        type=ComponentType.CONTAINER if s.kind == "image" else ComponentType.FILE,
        version=s.digest or None,
        bom_ref="root",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=s.digest.removeprefix("sha256:"))]
        if s.digest
        else None,
    )
    components: list[Component] = []
    if sbom.distro is not None:
        components.append(
            Component(
                name=sbom.distro.id,
                version=sbom.distro.version_id,
                type=ComponentType.OPERATING_SYSTEM,
                description=sbom.distro.pretty_name,
                bom_ref=f"os:{sbom.distro.id}",
            )
        )
    by_ref: dict[str, Component] = {}
    owners = sbom.owners()
    for p in sbom.packages:
        licenses: list[LicenseExpression | DisjunctiveLicense] = []
        for text in p.licenses:
            spdx = normalize_license(text)
            if spdx is not None and " " in spdx:
                licenses.append(LicenseExpression(spdx))
            elif spdx is not None:
                licenses.append(DisjunctiveLicense(id=spdx))
            else:
                licenses.append(DisjunctiveLicense(name=text))
        props = [Property(name="imageforge:package:type", value=p.type)]
        for i, e in enumerate(p.evidence):
            props.append(Property(name=f"imageforge:location:{i}:path", value="/" + e.path))
            if e.layer:
                props.append(Property(name=f"imageforge:location:{i}:layerID", value=e.layer))
        if p.source_name:
            props.append(Property(name="imageforge:package:sourceName", value=p.source_name))
        if p.source_version:
            props.append(Property(name="imageforge:package:sourceVersion", value=p.source_version))
        if p.id in owners:  # bom-ref of the OS package that installed it
            props.append(Property(name="imageforge:package:ownedBy", value=owners[p.id]))
        component = Component(
            name=p.name,
            version=p.version,
            type=ComponentType.LIBRARY,
            bom_ref=p.id,
            purl=PackageURL.from_string(p.purl),
            cpe=p.cpes[0] if p.cpes else None,
            licenses=licenses,
            properties=props,
            publisher=p.supplier or None,
        )
        by_ref[p.id] = component
        components.append(component)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(to_json(sbom), sort_keys=True))
    bom = Bom(
        components=components,
        serial_number=serial,
        metadata=BomMetaData(component=root, timestamp=created_time(sbom), tools=ToolRepository()),
    )
    bom.metadata.tools.components.add(
        Component(name="imageforge", version=__version__, type=ComponentType.APPLICATION)
    )
    bom.register_dependency(root, components)
    children: dict[str, list[Component]] = {}
    for r in sbom.relationships:
        if r.child in by_ref and r.kind == RelationshipKind.DEPENDS_ON:
            children.setdefault(r.parent, []).append(by_ref[r.child])
    for ref, component in by_ref.items():
        bom.register_dependency(component, children.get(ref, []))
    return str(JsonV1Dot6(bom).output_as_string(indent=2)) + "\n"


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


FORMATS: dict[str, Callable[[Sbom], bytes]] = {
    "table": lambda sbom: to_table(sbom).encode(),
    "json": lambda sbom: _json_bytes(to_json(sbom)),
    "spdx-json": lambda sbom: _json_bytes(to_spdx(sbom)),
    "cyclonedx-json": lambda sbom: to_cyclonedx(sbom).encode(),
}
"""Output format name -> renderer."""


def render(sbom: Sbom, fmt: str) -> bytes:
    """``sbom`` in format ``fmt`` (a key of :data:`FORMATS`)."""
    return FORMATS[fmt](sbom)
