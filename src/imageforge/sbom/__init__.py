"""SBOM: catalogers for OS and language packages over a filesystem view (a directory
or an image), and the writers that render what they found (table, JSON, SPDX 2.3,
CycloneDX 1.6).

- :class:`Cataloger` is the seam: ``wants(FileInfo)`` selects files by path and
  metadata, ``catalog(Files, warn)`` yields :class:`Package` s.
- :class:`Files` is what catalogers read; :class:`DirFiles` serves a directory.
- :func:`purl` and :func:`cpe` / :func:`cpes` make the identifiers every package has.
- :class:`ImageFiles` serves an image without unpacking it: one metadata pass, then the
  files the catalogers want in one pass per layer.
- :func:`generate` runs the catalogers over a directory view or an image and returns
  the :class:`Sbom` (packages, dependency and ownership edges, distro, warnings);
  :func:`ownership` finds which language packages an OS package installed (syft's
  ``ownership-by-file-overlap``), :func:`image_source` what an SBOM says of an image.
- :func:`render` writes it as ``table``, ``json``, ``spdx-json`` or ``cyclonedx-json``
  (:data:`FORMATS`); :func:`to_json`, :func:`to_spdx`, :func:`to_cyclonedx`,
  :func:`to_table` are the individual writers.
"""

from imageforge.sbom._cataloger import Cataloger
from imageforge.sbom._distro import detect_distro, parse_os_release
from imageforge.sbom._files import DirFiles, FileInfo, Files, Warn
from imageforge.sbom._generate import OS_PACKAGE_TYPES, generate, image_source, ownership
from imageforge.sbom._ids import cpe, cpes, purl
from imageforge.sbom._image_files import ImageFiles
from imageforge.sbom._licenses import normalize_license, spdx_expression
from imageforge.sbom._model import (
    Distro,
    Evidence,
    Package,
    PackageType,
    Relationship,
    RelationshipKind,
    Sbom,
    SourceInfo,
)
from imageforge.sbom._writers import (
    FORMATS,
    created_time,
    render,
    to_cyclonedx,
    to_json,
    to_spdx,
    to_table,
)

__all__ = [
    "FORMATS",
    "OS_PACKAGE_TYPES",
    "ImageFiles",
    "created_time",
    "detect_distro",
    "generate",
    "image_source",
    "ownership",
    "normalize_license",
    "parse_os_release",
    "render",
    "spdx_expression",
    "to_cyclonedx",
    "to_json",
    "to_spdx",
    "to_table",
    "Cataloger",
    "DirFiles",
    "Distro",
    "Evidence",
    "FileInfo",
    "Files",
    "Package",
    "PackageType",
    "Relationship",
    "RelationshipKind",
    "Sbom",
    "SourceInfo",
    "Warn",
    "cpe",
    "cpes",
    "purl",
]
