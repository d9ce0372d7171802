"""The image model, no I/O: digests, descriptors, media types, references, platforms,
manifests, indexes and configs, canonical JSON, schema checks; the read-only
Image/Index/Layer protocols. ``mutate`` makes new images from old; ``validate``
re-derives every digest.
"""

from imageforge.oci import _media as media
from imageforge.oci._canonical import canonical_json
from imageforge.oci._descriptor import Descriptor
from imageforge.oci._digest import (
    ALGORITHMS,
    Digest,
    Hasher,
    VerifyingReader,
    digest_bytes,
    digest_file,
    new_hasher,
)
from imageforge.oci._graph import image_children, walk_graph, walk_image_graph
from imageforge.oci._image import BaseImage, BaseIndex, Image, ImageIndex, Layer
from imageforge.oci._manifest import (
    History,
    ImageConfig,
    IndexManifest,
    Manifest,
    layers_with_diff_ids,
    load_json,
    parse_any,
)
from imageforge.oci._platform import (
    KNOWN_ARCHITECTURES,
    KNOWN_OSES,
    Platform,
    buildable_platform,
    host_platform,
)
from imageforge.oci._reference import DEFAULT_DOMAIN, DEFAULT_TAG, Reference
from imageforge.oci._schema import validate_json
from imageforge.oci._time import parse_duration, rfc3339

__all__ = [
    "ALGORITHMS",
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "BaseImage",
    "BaseIndex",
    "Descriptor",
    "Digest",
    "Hasher",
    "History",
    "Image",
    "ImageConfig",
    "ImageIndex",
    "IndexManifest",
    "Layer",
    "Manifest",
    "KNOWN_ARCHITECTURES",
    "KNOWN_OSES",
    "Platform",
    "buildable_platform",
    "Reference",
    "VerifyingReader",
    "canonical_json",
    "digest_bytes",
    "digest_file",
    "host_platform",
    "image_children",
    "layers_with_diff_ids",
    "load_json",
    "media",
    "new_hasher",
    "parse_any",
    "parse_duration",
    "rfc3339",
    "validate_json",
    "walk_graph",
    "walk_image_graph",
]
