"""The scan composition: a target's packages (an image read without unpacking it, a
directory, an SBOM) -> findings in the database -> the layer that brought each package
in -> suppressions -> the gate's filters -> a :class:`ScanReport`; beside them, as
``ScanOptions.scanners`` asks, the licences of the same SBOM, and the secrets and image
configuration of an image (one more pass over its layers, shared by both)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from imageforge.errors import Unavailable
from imageforge.layers import FsView
from imageforge.licenses import evaluate_licenses
from imageforge.misconfig import MisconfigResult, active_checks, check_image
from imageforge.oci import Image
from imageforge.policy import ScanIgnore
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.sbom import DirFiles, Files, ImageFiles, Sbom, SourceInfo, generate, image_source
from imageforge.scan._cache import ScanCache
from imageforge.scan._layers import DatabaseWrites, image_layers, package_layers
from imageforge.scan._model import ScanOptions, ScanReport, Section, VulnerabilityResults
from imageforge.scan._sbom_input import read_sbom
from imageforge.scan._sections import LicenseSection, MisconfigSection, SecretSection
from imageforge.scan._vuln_section import VulnSection
from imageforge.secrets import SecretConfig, SecretScanResult
from imageforge.secrets import scan_directory as scan_secret_directory
from imageforge.secrets import scan_image as scan_secrets
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

__all__ = [
    "scan_directory",
    "scan_files",
    "scan_ignores",
    "scan_image",
    "scan_sbom",
    "scan_sbom_file",
]


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
    db: VulnDB | None,
    options: ScanOptions | None = None,
    *,
    database: DbStatus | None = None,
    origins: Mapping[str, LayerOrigin] | None = None,
    warnings: Sequence[str] = (),
) -> ScanReport:
    """Scan the packages of ``sbom`` (``origins``: package id -> the layer that brought
    it in, when the image is known): vulnerabilities (``db`` may be None when the
    options leave them out) and licences, as the options ask."""
    options = options or ScanOptions()
    gate = options.gate
    sections: list[Section] = []
    notes: list[str] = []
    results = VulnerabilityResults()
    if "vuln" in options.scanners:
        if db is None:
            raise Unavailable("no vulnerability database was given to the vulnerability scan")
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
        sections.append(VulnSection(results))
        notes += [*matched.warnings, *dict.fromkeys(suppressed.warnings)]
    if "license" in options.scanners:
        licenses = evaluate_licenses(
            sbom, options.license, ignores=scan_ignores(options), today=options.today
        )
        sections.append(LicenseSection(licenses))
        notes += licenses.warnings
    return ScanReport(
        source=sbom.source,
        distro=sbom.distro,
        sbom=sbom,
        database=database,
        gate=gate,
        vulnerabilities=results,
        sections=sections,
        warnings=[*warnings, *sbom.warnings, *notes],
    )


def scan_ignores(options: ScanOptions) -> list[ScanIgnore]:
    """The suppressions (ignore files, ``[scan.ignore]``) that name one result by id, as
    the secret, image-configuration and licence scanners take them."""
    return [
        ScanIgnore(r.id, r.reason or f"by {r.origin}", r.expires, r.packages)
        for r in options.rules
        if r.id is not None and not r.paths and r.vex_status is None
    ]


def _without(options: ScanOptions, what: str, why: str, report: ScanReport) -> None:
    if what in options.scanners:
        report.warnings.append(f"{what}: {why}; not scanned")


def _add_image_sections(
    report: ScanReport,
    image: Image,
    options: ScanOptions,
    progress: ProgressSink,
    cache: ScanCache | None = None,
) -> None:
    """The secret and image-configuration scans of ``image``, as the options ask: one
    pass over the layers for both (the configuration checks read the filesystem view
    the secret scan indexed), or what ``cache`` kept of the same image under the same
    settings. Suppressions are applied after, so a kept result serves any of them."""
    kinds = options.scanners
    if not {"secret", "misconfig"} & kinds:
        return
    digest = str(image.digest)
    config = options.secrets or SecretConfig()
    secret_key = config.fingerprint()
    checks = active_checks(options.misconfig)
    misconfig_key = hashlib.sha256(repr(options.misconfig).encode()).hexdigest()
    secrets: SecretScanResult | None = None
    misconfig: MisconfigResult | None = None
    if cache is not None and "secret" in kinds:
        kept = cache.get_part(digest, "secrets", secret_key)
        secrets = (
            None if kept is None else _read_kept(SecretScanResult.from_json, kept, config.rules)
        )
    if cache is not None and "misconfig" in kinds:
        kept = cache.get_part(digest, "misconfigurations", misconfig_key)
        misconfig = None if kept is None else _read_kept(MisconfigResult.from_json, kept, checks)
    if ("secret" in kinds and secrets is None) or ("misconfig" in kinds and misconfig is None):
        bad: list[str] = []
        with FsView(
            image,
            on_bad_layer=lambda _i, exc: bad.append(exc.message),
            progress=progress,
            progress_key="scan",
        ) as view:
            if "secret" in kinds and secrets is None:
                secrets = scan_secrets(image, config, progress=progress, view=view)
                if cache is not None and not secrets.warnings and not bad:
                    cache.put_part(digest, "secrets", secret_key, secrets.to_json())
            if "misconfig" in kinds and misconfig is None:
                misconfig = check_image(image, options.misconfig, view=view)
                if cache is not None and not misconfig.warnings and not bad:
                    cache.put_part(digest, "misconfigurations", misconfig_key, misconfig.to_json())
        report.warnings.extend(dict.fromkeys(bad))
    sections = list(report.sections)
    if secrets is not None:
        secrets.suppress(scan_ignores(options), options.today)
        sections.append(SecretSection(secrets))
        report.warnings.extend(secrets.warnings)
    if misconfig is not None:
        misconfig.suppress(scan_ignores(options), options.today)
        sections.append(MisconfigSection(misconfig))
        report.warnings.extend(misconfig.warnings)
    report.sections = _ordered(sections)


_Kept = TypeVar("_Kept")


def _read_kept(
    read: Callable[[dict[str, Any], Any], _Kept], doc: dict[str, Any], context: Any
) -> _Kept | None:
    """A kept result read back; None (scan again) when it cannot be."""
    try:
        return read(doc, context)
    except (KeyError, TypeError, ValueError):
        return None


def _ordered(sections: Sequence[Section]) -> list[Section]:
    order = ["vulnerabilities", "secrets", "misconfigurations", "licenses"]
    return sorted(sections, key=lambda s: order.index(s.kind) if s.kind in order else 9)


def _empty_sbom(source: SourceInfo) -> Sbom:
    return Sbom(source=source, distro=None, packages=[], relationships=[], warnings=[])


def scan_image(
    image: Image,
    db: VulnDB | None,
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
    options = options or ScanOptions()
    source = image_source(image, name)
    if not {"vuln", "license"} & options.scanners:  # no packages needed
        report = scan_sbom(_empty_sbom(source), db, options, database=database)
        _add_image_sections(report, image, options, progress, cache)
        return report
    digest = str(image.digest)
    hit = cache.get(digest, source) if cache is not None else None
    if hit is not None:
        sbom, origins = hit
        report = scan_sbom(sbom, db, options, database=database, origins=origins)
        _add_image_sections(report, image, options, progress, cache)
        return report
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
    report = scan_sbom(
        sbom, db, options, database=database, origins=origins, warnings=list(warnings)
    )
    _add_image_sections(report, image, options, progress, cache)
    return report


def scan_files(
    files: Files,
    db: VulnDB | None,
    options: ScanOptions | None = None,
    *,
    source: SourceInfo | None = None,
    database: DbStatus | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> ScanReport:
    """Scan a filesystem view (a directory's :class:`~imageforge.sbom.DirFiles`...)."""
    options = options or ScanOptions()
    if {"vuln", "license"} & options.scanners:
        sbom = generate(files, source, progress=progress)
    else:
        sbom = _empty_sbom(source or SourceInfo(kind="directory", name=""))
    report = scan_sbom(sbom, db, options, database=database)
    _without(options, "misconfig", "the image configuration checks need an image", report)
    return report


def scan_directory(
    path: Path,
    db: VulnDB | None,
    options: ScanOptions | None = None,
    *,
    name: str | None = None,
    database: DbStatus | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> ScanReport:
    """Scan a root filesystem (or any tree) on disk."""
    options = options or ScanOptions()
    source = SourceInfo(kind="directory", name=name or str(path))
    report = scan_files(
        DirFiles(path), db, options, source=source, database=database, progress=progress
    )
    if "secret" in options.scanners:
        secrets = scan_secret_directory(path, options.secrets, target=source.name)
        secrets.suppress(scan_ignores(options), options.today)
        report.sections = _ordered([*report.sections, SecretSection(secrets)])
        report.warnings.extend(secrets.warnings)
    return report


def scan_sbom_file(
    path: Path,
    db: VulnDB | None,
    options: ScanOptions | None = None,
    *,
    database: DbStatus | None = None,
) -> ScanReport:
    """Scan the packages a CycloneDX or SPDX JSON document lists."""
    options = options or ScanOptions()
    report = scan_sbom(read_sbom(path), db, options, database=database)
    _without(options, "secret", "an SBOM holds no files", report)
    _without(options, "misconfig", "the image configuration checks need an image", report)
    return report
