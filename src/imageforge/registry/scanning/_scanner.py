"""The ``Scanner`` seam and which manifests it is given."""

from __future__ import annotations

from typing import Protocol

from imageforge.oci import Digest, media
from imageforge.registry.meta import ManifestRow, ScanResult

__all__ = ["Scanner", "scannable"]

_IMAGE_CONFIGS = frozenset({media.OCI_CONFIG, media.DOCKER_CONFIG})


class Scanner(Protocol):
    """Scans manifests stored in the registry."""

    def version(self) -> str:
        """The version of what the scan matches against (the vulnerability database):
        a job is one (digest, version), and a new version means new scans."""
        ...

    def scan(self, digest: Digest) -> ScanResult:
        """Scan the stored image manifest ``digest``. A result with status ``failed``
        (or an exception) is a failed attempt."""
        ...


def scannable(row: ManifestRow) -> bool:
    """Whether a pushed manifest is an image to scan: not an index (its images are
    scanned as they are pushed), not a signature, attestation or other artifact."""
    return row.subject is None and row.artifact_type in _IMAGE_CONFIGS
