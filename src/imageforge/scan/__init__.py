"""``imageforge scan``: a target's packages matched against the vulnerability database,
each finding placed in the layer and Dockerfile instruction that brought its package in,
suppressions and the CI gate applied, written for people and tools.

- targets: :func:`scan_image` (an opened image, read without unpacking: one header pass,
  then only the files the catalogers want), :func:`scan_directory` / :func:`scan_files`
  (a root filesystem), :func:`scan_sbom_file` (``sbom:FILE``, CycloneDX or SPDX JSON,
  read by :func:`read_sbom`) and :func:`scan_sbom` (an :class:`~imageforge.sbom.Sbom`
  in hand); every one returns a :class:`ScanReport` (``_scan``);
- options (``_model``): :class:`ScanOptions`, the :class:`Gate` (``--severity``,
  ``--min-cvss``, ``--ignore-unfixed``, ``--exit-code``); a report holds one
  :class:`Section` per kind of result (vulnerabilities: ``_vuln_section``; secrets,
  image configuration and licences: ``_sections``), chosen by ``ScanOptions.scanners``;
- layers (``_layers``): :func:`image_layers` pairs layers with history entries; OS
  packages are placed in the layer whose copy of the package database first listed them;
- the cache (``_cache``): :class:`ScanCache` keeps what was read from an image by its
  digest, so a warm scan only matches;
- the database (``_database``): :func:`open_database` updates it unless offline and
  warns when it is older than a day;
- writers (``_render``: :data:`FORMATS`): ``table`` (``_table``), ``json`` (``_json``),
  ``sarif`` (``_sarif``, through :mod:`imageforge.report`), ``cyclonedx`` (a 1.6 VDR,
  ``_cyclonedx``, on :func:`imageforge.sbom.to_cyclonedx`) and ``openvex``
  (``_openvex``).
"""

from imageforge.scan._cache import ScanCache
from imageforge.scan._cyclonedx import to_cyclonedx_vdr
from imageforge.scan._database import age_text, open_database
from imageforge.scan._json import SCHEMA, to_json
from imageforge.scan._layers import image_layers, instruction
from imageforge.scan._model import (
    SCANNERS,
    Gate,
    ScanOptions,
    ScanReport,
    Section,
    VulnerabilityResults,
)
from imageforge.scan._openvex import to_openvex
from imageforge.scan._render import FORMATS, render, render_table
from imageforge.scan._sarif import to_sarif_document
from imageforge.scan._sbom_input import read_sbom, sbom_from_document, sbom_from_json
from imageforge.scan._scan import (
    scan_directory,
    scan_files,
    scan_ignores,
    scan_image,
    scan_sbom,
    scan_sbom_file,
)
from imageforge.scan._sections import LicenseSection, MisconfigSection, SecretSection
from imageforge.scan._vuln_section import VulnSection

__all__ = [
    "FORMATS",
    "SCANNERS",
    "SCHEMA",
    "Gate",
    "LicenseSection",
    "MisconfigSection",
    "ScanCache",
    "ScanOptions",
    "ScanReport",
    "SecretSection",
    "Section",
    "VulnSection",
    "VulnerabilityResults",
    "age_text",
    "image_layers",
    "instruction",
    "open_database",
    "read_sbom",
    "render",
    "render_table",
    "sbom_from_document",
    "sbom_from_json",
    "scan_directory",
    "scan_files",
    "scan_ignores",
    "scan_image",
    "scan_sbom",
    "scan_sbom_file",
    "to_cyclonedx_vdr",
    "to_json",
    "to_openvex",
    "to_sarif_document",
]
