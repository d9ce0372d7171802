"""Media types of the OCI image spec and Docker schema 2, and what each one is."""

from __future__ import annotations

from typing import Final

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INDEX_TYPES",
    "LAYER_TYPES",
    "MANIFEST_TYPES",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "OCI_NONDIST_LAYER",
    "OCI_NONDIST_LAYER_GZIP",
    "OCI_NONDIST_LAYER_ZSTD",
    "is_index",
    "is_image_config",
    "is_layer",
    "is_manifest",
    "layer_compression",
]

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDIST_LAYER: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_NONDIST_LAYER_GZIP: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_NONDIST_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})

_COMPRESSION: Final = {
    OCI_LAYER: "none",
    OCI_NONDIST_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_NONDIST_LAYER_GZIP: "gzip",
    DOCKER_LAYER: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_NONDIST_LAYER_ZSTD: "zstd",
}
LAYER_TYPES: Final = frozenset(_COMPRESSION)


def is_manifest(media_type: str) -> bool:
    return media_type in MANIFEST_TYPES


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def is_layer(media_type: str) -> bool:
    """True for a filesystem layer (a tar changeset, any compression): the one test of
    what is unpacked, diffed, run or analyzed. Anything else a manifest lists as a layer
    (cosign's simple-signing payload, a DSSE envelope, an OCI 1.1 artifact's blob) is a
    plain blob: copied and verified by digest, never read as a tar."""
    return media_type in LAYER_TYPES


def is_image_config(media_type: str) -> bool:
    """True for an image's config (OCI or Docker): a manifest with any other config is an
    artifact, whose layers are plain blobs whatever media type they declare."""
    return media_type in (OCI_CONFIG, DOCKER_CONFIG)


def layer_compression(media_type: str) -> str | None:
    """ "none", "gzip" or "zstd" for a layer media type; None if it is not a layer type."""
    return _COMPRESSION.get(media_type)
