"""``sbom:FILE``: the packages of a CycloneDX (1.2-1.6) or SPDX (2.2, 2.3) JSON document,
or of imageforge's own SBOM JSON (``imageforge sbom --format json``, every field kept),
read back into an :class:`~imageforge.sbom.Sbom` so it is scanned as an image is.

What each package is comes from its purl (type, namespace, name, version) and the
qualifiers syft writes: ``upstream=SRC`` or ``upstream=SRC@VERSION`` names a Debian or
Alpine package's source package (a binNMU's source version), ``distro=debian-12`` the
distribution. Locations and layers come from the ``imageforge:location:N:path`` /
``syft:location:N:path`` properties (and ``...:layerID``), or an SPDX package's
``sourceInfo``; the distribution from the operating-system component (syft's
``syft:distro:*`` properties) or, failing that, the purls' ``distro`` qualifier; which
language package an OS package installed from imageforge's ``ownedBy`` property or an
SPDX ``OTHER`` relationship commented ``ownership-by-file-overlap`` (syft's).

A document that is neither format is refused naming the file; a package whose purl
cannot be read is one warning naming it, and the rest is scanned."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import load_json
from imageforge.sbom import (
    Distro,
    Evidence,
    Package,
    PackageType,
    Relationship,
    RelationshipKind,
    Sbom,
    SourceInfo,
)

__all__ = ["IMAGEFORGE_SCHEMA", "MAX_SBOM", "read_sbom", "sbom_from_document", "sbom_from_json"]

IMAGEFORGE_SCHEMA = "imageforge-sbom/1"

MAX_SBOM = 512 << 20

_TYPES = {
    "deb": PackageType.DEB,
    "apk": PackageType.APK,
    "rpm": PackageType.RPM,
    "pypi": PackageType.PYTHON,
    "npm": PackageType.NPM,
    "golang": PackageType.GO,
    "maven": PackageType.JAVA,
    "cargo": PackageType.RUST,
    "gem": PackageType.GEM,
}
_OS_TYPES = (PackageType.DEB, PackageType.APK, PackageType.RPM)
_PATHS = re.compile(r"(/[^\s,()]+)")
_HINT = (
    "give a CycloneDX or SPDX JSON document, e.g. from `imageforge sbom --format cyclonedx-json`"
)


def read_sbom(path: Path, warn: list[str] | None = None) -> Sbom:
    """The SBOM in ``path``; problems with single packages are appended to ``warn``
    (and to the SBOM's warnings)."""
    try:
        size = path.stat().st_size
        if size > MAX_SBOM:
            raise InvalidArgument(f"{path} is {size} bytes, more than an SBOM may be ({MAX_SBOM})")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"SBOM {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidArgument(f"SBOM {path} is a directory", hint=_HINT) from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read SBOM {path}: {exc.strerror or exc}") from None
    head = raw.lstrip()[:64]
    if head.startswith(b"<"):
        raise InvalidArgument(f"{path} is XML; only JSON SBOMs are read", hint=_HINT)
    if head.startswith((b"SPDXVersion", b"##")):
        raise InvalidArgument(f"{path} is SPDX tag-value; only JSON SBOMs are read", hint=_HINT)
    try:
        doc = load_json(raw, f"SBOM {path}")
    except InvalidArgument as exc:
        raise InvalidArgument(exc.message, hint=_HINT) from None
    sbom = sbom_from_document(doc, str(path))
    if warn is not None:
        warn.extend(sbom.warnings)
    return sbom


def sbom_from_document(doc: Any, name: str) -> Sbom:
    """A parsed CycloneDX, SPDX or imageforge JSON document (``name`` says where it came
    from)."""
    if isinstance(doc, dict) and doc.get("schema") == IMAGEFORGE_SCHEMA:
        return sbom_from_json(doc, name)
    if isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX":
        return _cyclonedx(doc, name)
    if isinstance(doc, dict) and str(doc.get("spdxVersion", "")).startswith("SPDX-"):
        return _spdx(doc, name)
    raise InvalidArgument(
        f"{name} is neither a CycloneDX nor an SPDX JSON document "
        '(no bomFormat "CycloneDX" and no spdxVersion)',
        hint=_HINT,
    )


# -- one package ----------------------------------------------------------------------
def _qualifiers(p: PackageURL) -> dict[str, str]:
    q = p.qualifiers
    return dict(q) if isinstance(q, dict) else {}


def _package(
    where: str,
    name: Any,
    version: Any,
    purl_text: Any,
    evidence: tuple[Evidence, ...],
    props: Mapping[str, str],
    warnings: list[str],
) -> Package | None:
    if not isinstance(purl_text, str) or not purl_text:
        return None
    try:
        purl = PackageURL.from_string(purl_text)
    except ValueError as exc:
        warnings.append(f"{where}: purl {purl_text!r} cannot be read ({exc}); not scanned")
        return None
    ptype = props.get("type") or _TYPES.get(purl.type, purl.type)
    version_text = str(version) if isinstance(version, str) and version else (purl.version or "")
    pkg_name = str(name) if isinstance(name, str) and name else purl.name
    if not version_text:
        warnings.append(f"{where}: {pkg_name} has no version; not scanned")
        return None
    source_name = props.get("sourceName")
    source_version = props.get("sourceVersion")
    upstream = _qualifiers(purl).get("upstream")
    if ptype in _OS_TYPES and not source_name and upstream:
        # syft and imageforge: "src" or "src@version" (a binNMU's source version)
        src, _, src_version = upstream.partition("@")
        source_name = src
        source_version = source_version or src_version or version_text
    metadata: dict[str, str] = {}
    if ptype == PackageType.JAVA and purl.namespace:
        metadata["group_id"] = purl.namespace
    return Package(
        name=pkg_name,
        version=version_text,
        type=ptype,
        purl=purl_text,
        evidence=evidence,
        source_name=source_name or None,
        source_version=(source_version or None) if source_name else None,
        metadata=metadata,
    )


def _distro_from_purls(packages: list[Package]) -> Distro | None:
    for p in packages:
        if p.type not in _OS_TYPES:
            continue
        try:
            distro = _qualifiers(PackageURL.from_string(p.purl)).get("distro")
        except ValueError:
            continue
        if distro:
            ident, _, version = distro.partition("-")
            return Distro(ident, version or None)
    return None


# -- CycloneDX --------------------------------------------------------------------------
def _components(items: Any) -> Iterator[dict[str, Any]]:
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            yield item
            yield from _components(item.get("components"))


def _properties(component: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for prop in component.get("properties") or ():
        if isinstance(prop, dict) and isinstance(prop.get("name"), str):
            value = prop.get("value")
            if isinstance(value, str):
                out.setdefault(prop["name"], value)
    return out


def _locations(props: Mapping[str, str]) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    for prefix in ("imageforge:location:", "syft:location:"):
        n = 0
        while (path := props.get(f"{prefix}{n}:path")) is not None:
            out.append(Evidence(path.strip("/"), props.get(f"{prefix}{n}:layerID")))
            n += 1
        if out:
            break
    return tuple(out)


def _own_props(props: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key in ("type", "sourceName", "sourceVersion", "ownedBy"):
        value = props.get(f"imageforge:package:{key}")
        if value:
            out[key] = value
    for key, syft in (("sourceName", "source"), ("sourceVersion", "sourceVersion")):
        value = props.get(f"syft:metadata:{syft}")
        if value and key not in out:
            out[key] = value
    if "type" not in out and props.get("syft:package:type"):
        out["type"] = props["syft:package:type"]
    return out


def _cyclonedx(doc: dict[str, Any], name: str) -> Sbom:
    warnings: list[str] = []
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    subject = metadata.get("component") if isinstance(metadata, dict) else None
    digest = None
    if isinstance(subject, dict) and str(subject.get("version", "")).startswith("sha256:"):
        digest = str(subject["version"])
    packages: list[Package] = []
    refs: dict[str, str] = {}  # bom-ref -> package id
    owned_by: dict[str, str] = {}  # package id -> owner's bom-ref
    distro: Distro | None = None
    for n, comp in enumerate(_components(doc.get("components"))):
        props = _properties(comp)
        if comp.get("type") == "operating-system":
            ident = props.get("syft:distro:id") or comp.get("name")
            if isinstance(ident, str) and ident and distro is None:
                version = props.get("syft:distro:versionID") or comp.get("version")
                distro = Distro(
                    ident,
                    str(version) if version else None,
                    comp.get("description") if isinstance(comp.get("description"), str) else None,
                )
            continue
        own = _own_props(props)
        where = f"{name}: component {comp.get('bom-ref') or comp.get('name') or n}"
        pkg = _package(
            where,
            comp.get("name"),
            comp.get("version"),
            comp.get("purl"),
            _locations(props),
            own,
            warnings,
        )
        if pkg is None:
            continue
        packages.append(pkg)
        if isinstance(comp.get("bom-ref"), str):
            refs[comp["bom-ref"]] = pkg.id
        if "ownedBy" in own:
            owned_by[pkg.id] = own["ownedBy"]
    relationships = [
        Relationship(refs[owner], child, RelationshipKind.OWNERSHIP)
        for child, owner in owned_by.items()
        if owner in refs
    ]
    return Sbom(
        source=SourceInfo(kind="sbom", name=name, digest=digest),
        distro=distro or _distro_from_purls(packages),
        packages=packages,
        relationships=relationships,
        warnings=warnings,
    )


# -- SPDX -------------------------------------------------------------------------------
def _spdx_purl(pkg: dict[str, Any]) -> str | None:
    for ref in pkg.get("externalRefs") or ():
        if (
            isinstance(ref, dict)
            and ref.get("referenceType") == "purl"
            and isinstance(ref.get("referenceLocator"), str)
        ):
            return str(ref["referenceLocator"])
    return None


def _spdx(doc: dict[str, Any], name: str) -> Sbom:
    warnings: list[str] = []
    packages: list[Package] = []
    ids: dict[str, str] = {}  # SPDXID -> package id
    distro: Distro | None = None
    for n, item in enumerate(doc.get("packages") or ()):
        if not isinstance(item, dict):
            continue
        if item.get("primaryPackagePurpose") == "OPERATING-SYSTEM":
            if isinstance(item.get("name"), str) and distro is None:
                version = item.get("versionInfo")
                distro = Distro(item["name"], str(version) if version else None)
            continue
        info = item.get("sourceInfo")
        paths = _PATHS.findall(info) if isinstance(info, str) else []
        evidence = tuple(Evidence(p.strip("/")) for p in dict.fromkeys(paths))
        where = f"{name}: package {item.get('SPDXID') or item.get('name') or n}"
        pkg = _package(
            where,
            item.get("name"),
            item.get("versionInfo"),
            _spdx_purl(item),
            evidence,
            {},
            warnings,
        )
        if pkg is None:
            continue
        packages.append(pkg)
        if isinstance(item.get("SPDXID"), str):
            ids[item["SPDXID"]] = pkg.id
    relationships = []
    for rel in doc.get("relationships") or ():
        if not isinstance(rel, dict) or rel.get("relationshipType") != "OTHER":
            continue
        comment = rel.get("comment")
        if not (isinstance(comment, str) and comment.startswith(RelationshipKind.OWNERSHIP)):
            continue
        parent, child = (
            ids.get(rel.get("spdxElementId", "")),
            ids.get(rel.get("relatedSpdxElement", "")),
        )
        if parent and child:
            relationships.append(Relationship(parent, child, RelationshipKind.OWNERSHIP))
    return Sbom(
        source=SourceInfo(kind="sbom", name=name),
        distro=distro or _distro_from_purls(packages),
        packages=packages,
        relationships=relationships,
        warnings=warnings,
    )


# -- imageforge's own JSON ---------------------------------------------------------------
def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def sbom_from_json(doc: dict[str, Any], name: str) -> Sbom:
    """imageforge's SBOM JSON (:func:`imageforge.sbom.to_json`), as it was written."""
    warnings: list[str] = []
    packages: list[Package] = []
    for n, p in enumerate(doc.get("packages") or ()):
        if not (
            isinstance(p, dict)
            and all(isinstance(p.get(k), str) for k in ("name", "version", "type", "purl"))
        ):
            warnings.append(f"{name}: packages[{n}] has no name, version, type or purl")
            continue
        evidence = tuple(
            Evidence(str(loc["path"]).strip("/"), _text(loc.get("layer")))
            for loc in p.get("locations") or ()
            if isinstance(loc, dict) and isinstance(loc.get("path"), str)
        )
        metadata = p.get("metadata") if isinstance(p.get("metadata"), dict) else {}
        packages.append(
            Package(
                name=p["name"],
                version=p["version"],
                type=p["type"],
                purl=p["purl"],
                cpes=_strings(p.get("cpes")),
                licenses=_strings(p.get("licenses")),
                evidence=evidence,
                source_name=_text(p.get("sourceName")),
                source_version=_text(p.get("sourceVersion")),
                supplier=_text(p.get("supplier")),
                files=tuple(f.strip("/") for f in _strings(p.get("files"))),
                depends_on=_strings(p.get("dependsOn")),
                metadata={k: v for k, v in (metadata or {}).items() if isinstance(v, str)},
            )
        )
    relationships = [
        Relationship(r["parent"], r["child"], str(r.get("type") or RelationshipKind.DEPENDS_ON))
        for r in doc.get("relationships") or ()
        if isinstance(r, dict)
        and isinstance(r.get("parent"), str)
        and isinstance(r.get("child"), str)
    ]
    d = doc.get("distro")
    distro = None
    if isinstance(d, dict) and isinstance(d.get("id"), str):
        distro = Distro(
            d["id"],
            _text(d.get("versionId")),
            _text(d.get("prettyName")),
            _strings(d.get("idLike")),
        )
    src = doc.get("source") if isinstance(doc.get("source"), dict) else {}
    assert isinstance(src, dict)
    source = SourceInfo(
        kind="sbom",
        name=name,
        digest=_text(src.get("digest")),
        config_digest=_text(src.get("configDigest")),
        architecture=_text(src.get("architecture")),
        os=_text(src.get("os")),
        created=_text(src.get("created")),
    )
    return Sbom(
        source, distro, packages, relationships, [*_strings(doc.get("warnings")), *warnings]
    )
