"""Sources and sinks of images, named as skopeo names them: ``oci:``, ``oci-archive:``,
``docker-archive:``, ``rootfs:`` and the local store. ``copy`` = any source -> any sink.

:class:`LayoutReader` reads an OCI layout in place, refusing blobs that are not regular
files inside it and reading none past its descriptor's size; :class:`StoreBlobSink`
puts a blob into the store bounded by its size and verified before it appears. Both
serve content that is not an image too (a build cache).
"""

from imageforge.layers import BlobImage, BlobIndex, BlobLayer
from imageforge.transports._archive import ArchiveLayout, open_archive_layout
from imageforge.transports._copy import (
    CopyResult,
    copy,
    open_source,
    select_platform,
    staged_archive,
    write_image,
)
from imageforge.transports._layout import REF_NAME, LayoutReader
from imageforge.transports._names import TRANSPORTS, TransportRef, parse_transport_ref
from imageforge.transports._sinks import StoreBlobSink

__all__ = [
    "REF_NAME",
    "ArchiveLayout",
    "TRANSPORTS",
    "BlobImage",
    "BlobIndex",
    "BlobLayer",
    "CopyResult",
    "LayoutReader",
    "StoreBlobSink",
    "TransportRef",
    "copy",
    "open_archive_layout",
    "open_source",
    "parse_transport_ref",
    "select_platform",
    "staged_archive",
    "write_image",
]
