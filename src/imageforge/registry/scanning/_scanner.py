"""The ``Scanner`` seam and which manifests it is given."""

from __future__ import annotations

from typing import Protocol

from imageforge.oci import Digest, IndexManifest, Manifest, media
from imageforge.registry.meta import ScanResult

__all__ = ["Scanner", "is_image"]


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


def is_image(manifest: Manifest | IndexManifest | None) -> bool:
    """Whether a manifest is an image to scan (and to hold to a vulnerability policy):
    an image config and filesystem layers, no subject. Not an index (its images are
    scanned as they are pushed), nor a signature, attestation, SBOM or other artifact
    (cosign's signature manifests have an image config, but no filesystem layer)."""
    return (
        isinstance(manifest, Manifest)
        and manifest.subject is None
        and manifest.artifact_type is None
        and media.is_image_config(manifest.config.media_type)
        and all(media.is_layer(d.media_type) for d in manifest.layers)
    )
