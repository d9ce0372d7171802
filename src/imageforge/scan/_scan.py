"""The scan composition: a target's packages (an image read without unpacking it, a
directory, an SBOM) -> findings in the database -> the layer that brought each package
in -> suppressions -> the gate's filters -> a :class:`ScanReport`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from imageforge.oci import Image
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.sbom import DirFiles, Files, ImageFiles, Sbom, SourceInfo, generate, image_source
from imageforge.scan._cache import ScanCache
from imageforge.scan._layers import DatabaseWrites, image_layers, package_layers
from imageforge.scan._model import ScanOptions, ScanReport, VulnerabilityResults
from imageforge.scan._sbom_input import read_sbom
from imageforge.scan._vuln_section import VulnSection
from imageforge.vuln import (
    DbStatus,
    Finding,
    LayerOrigin,
    VulnDB,
    apply_suppressions,
    filter_findings,
    match_packages,
    upgrades,
)

__all__ = ["scan_directory", "scan_files", "scan_image", "scan_sbom", "scan_sbom_file"]


def _with_layers(findings: Sequence[Finding], origins: Mapping[str, LayerOrigin]) -> list[Finding]:
    out = []
    for f in findings:
        origin = origins.get(f.package.id)
        if origin is None and f.package.evidence and f.package.evidence[0].layer:
            origin = LayerOrigin(f.package.evidence[0].layer)  # an SBOM names the digest
        out.append(replace(f, layer=origin) if origin is not None else f)
    return out


def scan_sbom(
    sbom: Sbom,
    db: VulnDB,
    options: ScanOptions | None = None,
    *,
    database: DbStatus | None = None,
    origins: Mapping[str, LayerOrigin] | None = None,
    warnings: Sequence[str] = (),
) -> ScanReport:
    """Scan the packages of ``sbom`` (``origins``: package id -> the layer that brought
    it in, when the image is known)."""
    options = options or ScanOptions()
    gate = options.gate
    matched = match_packages(sbom.packages, db, sbom.distro, options.match, sbom.owners())
    origins = origins or {}
    found = _with_layers(matched.vulnerabilities, origins)
    info = _with_layers(matched.informational, origins)
    rules = list(options.rules)
    suppressed = apply_suppressions(found, rules, options.today)
    info_suppressed = apply_suppressions(info, rules, options.today)
    kept = filter_findings(
        suppressed.kept,
        severities=gate.severities,
        min_cvss=gate.min_cvss,
        ignore_unfixed=gate.ignore_unfixed,
    )
    results = VulnerabilityResults(
        findings=kept,
        informational=info_suppressed.kept,
        suppressed=suppressed.suppressed + info_suppressed.suppressed,
        filtered=len(suppressed.kept) - len(kept),
        owned=matched.owned,
        upgrades=upgrades(kept),
    )
    return ScanReport(
        source=sbom.source,
        distro=sbom.distro,
        sbom=sbom,
        database=database,
        gate=gate,
        vulnerabilities=results,
        sections=[VulnSection(results)],
        warnings=[
            *warnings,
            *sbom.warnings,
            *matched.warnings,
            *dict.fromkeys(suppressed.warnings),
        ],
    )


def scan_image(
    image: Image,
    db: VulnDB,
    options: ScanOptions | None = None,
    *,
    name: str | None = None,
    database: DbStatus | None = None,
    progress: ProgressSink = NULL_PROGRESS,
    cache: ScanCache | None = None,
) -> ScanReport:
    """Scan ``image`` (``name``: as the user named it): one header pass over its layers,
    then only the files the catalogers want, and the package databases' earlier copies
    where more than one layer wrote them; or, when ``cache`` has read this image before,
    what it read then."""
    source = image_source(image, name)
    digest = str(image.digest)
    hit = cache.get(digest, source) if cache is not None else None
    if hit is not None:
        sbom, origins = hit
        return scan_sbom(sbom, db, options, database=database, origins=origins)
    warnings: dict[str, None] = {}
    writes = DatabaseWrites()
    with ImageFiles(
        image,
        warn=lambda path, message: warnings.setdefault(f"{path}: {message}"),
        progress=progress,
        on_layer=writes,
    ) as files:
        sbom = generate(files, source, progress=progress)
        origins = package_layers(sbom, files.view, writes, image_layers(image))
    if cache is not None and not warnings:  # a layer that failed is read again next time
        cache.put(digest, sbom, origins)
    return scan_sbom(sbom, db, options, database=database, origins=origins, warnings=list(warnings))


def scan_files(
    files: Files,
    db: VulnDB,
    options: ScanOptions | None = None,
    *,
    source: SourceInfo | None = None,
    database: DbStatus | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> ScanReport:
    """Scan a filesystem view (a directory's :class:`~imageforge.sbom.DirFiles`...)."""
    sbom = generate(files, source, progress=progress)
    return scan_sbom(sbom, db, options, database=database)


def scan_directory(
    path: Path,
    db: VulnDB,
    options: ScanOptions | None = None,
    *,
    name: str | None = None,
    database: DbStatus | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> ScanReport:
    """Scan a root filesystem (or any tree) on disk."""
    source = SourceInfo(kind="directory", name=name or str(path))
    return scan_files(
        DirFiles(path), db, options, source=source, database=database, progress=progress
    )


def scan_sbom_file(
    path: Path,
    db: VulnDB,
    options: ScanOptions | None = None,
    *,
    database: DbStatus | None = None,
) -> ScanReport:
    """Scan the packages a CycloneDX or SPDX JSON document lists."""
    return scan_sbom(read_sbom(path), db, options, database=database)
