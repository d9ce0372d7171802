"""SBOM: catalogers for OS and language packages over a filesystem view (a directory
or an image), and the writers that render what they found (table, JSON, SPDX 2.3,
CycloneDX 1.6).

- :class:`Cataloger` is the seam: ``wants(FileInfo)`` selects files by path and
  metadata, ``catalog(Files, warn)`` yields :class:`Package` s.
- :class:`Files` is what catalogers read; :class:`DirFiles` serves a directory.
- :func:`purl` and :func:`cpe` / :func:`cpes` make the identifiers every package has.
"""

from imageforge.sbom._cataloger import Cataloger
from imageforge.sbom._files import DirFiles, FileInfo, Files, Warn
from imageforge.sbom._ids import cpe, cpes, purl
from imageforge.sbom._model import (
    Distro,
    Evidence,
    Package,
    PackageType,
    Relationship,
    Sbom,
    SourceInfo,
)

__all__ = [
    "Cataloger",
    "DirFiles",
    "Distro",
    "Evidence",
    "FileInfo",
    "Files",
    "Package",
    "PackageType",
    "Relationship",
    "Sbom",
    "SourceInfo",
    "Warn",
    "cpe",
    "cpes",
    "purl",
]
