"""Sources and sinks of images, named as skopeo names them: ``oci:``, ``oci-archive:``,
``docker-archive:``, ``rootfs:`` and the local store. ``copy`` = any source -> any sink.
"""

from imageforge.layers import BlobImage, BlobIndex, BlobLayer
from imageforge.transports._copy import CopyResult, copy, open_source, select_platform, write_image
from imageforge.transports._names import TRANSPORTS, TransportRef, parse_transport_ref

__all__ = [
    "TRANSPORTS",
    "BlobImage",
    "BlobIndex",
    "BlobLayer",
    "CopyResult",
    "TransportRef",
    "copy",
    "open_source",
    "parse_transport_ref",
    "select_platform",
    "write_image",
]
