"""The image model, no I/O: digests, descriptors, media types, references, platforms,
manifests, indexes and configs, canonical JSON; the read-only Image/Index/Layer protocols.
"""

from imageforge.oci import _media as media
from imageforge.oci._digest import (
    ALGORITHMS,
    Digest,
    Hasher,
    VerifyingReader,
    digest_bytes,
    digest_file,
    new_hasher,
)

__all__ = [
    "ALGORITHMS",
    "Digest",
    "Hasher",
    "VerifyingReader",
    "digest_bytes",
    "digest_file",
    "media",
    "new_hasher",
]
