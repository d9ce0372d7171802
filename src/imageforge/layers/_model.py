"""What a layer holds: entries (one per tar member) and the digests of the whole layer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, media

__all__ = [
    "Compression",
    "Entry",
    "EntryType",
    "LayerInfo",
    "media_type_for",
    "normalize_path",
]

Compression = Literal["none", "gzip", "zstd"]
"""How a layer's tar stream is compressed; the names :func:`media.layer_compression` uses."""

COMPRESSIONS: Final[tuple[Compression, ...]] = ("none", "gzip", "zstd")

_MEDIA_TYPES: Final[dict[str, str]] = {
    "none": media.OCI_LAYER,
    "gzip": media.OCI_LAYER_GZIP,
    "zstd": media.OCI_LAYER_ZSTD,
}


def media_type_for(compression: Compression) -> str:
    """The OCI layer media type for a compression."""
    return _MEDIA_TYPES[compression]


class EntryType(enum.Enum):
    """The kinds of tar member a layer may hold."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"


@dataclass(frozen=True)
class Entry:
    """One member of a layer tar.

    ``path`` is normalised: relative, ``/``-separated, without ``.`` components or a
    trailing ``/`` (the layer root itself is ``"."``). ``mode`` holds the permission bits
    including setuid/setgid/sticky (``0o7777``), never the file-type bits. ``linkname`` is
    a symlink's target as stored, or a hardlink's target path (normalised like ``path``).
    ``mtime`` is in whole seconds. ``xattrs`` maps names such as ``user.foo`` to raw bytes.
    """

    path: str
    type: EntryType
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last component of ``path``."""
        return self.path.rpartition("/")[2]


@dataclass(frozen=True)
class LayerInfo:
    """What one pass over a layer learned: ``digest`` and ``size`` of the compressed
    bytes (the blob), ``diff_id`` and ``uncompressed_size`` of the tar inside."""

    digest: Digest
    diff_id: Digest
    size: int
    uncompressed_size: int
    media_type: str


def normalize_path(raw: str, *, what: str = "layer") -> str:
    """Normalise a tar member name: drop leading ``/`` (as tar does), ``.`` components
    and empty components. A ``..`` component is refused with :class:`InvalidArgument`:
    a layer may never name anything outside its root."""
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(
            f"{what}: entry {raw!r} has a '..' component and would escape the layer root",
            hint="the layer is malformed or hostile; do not use it",
        )
    if "\0" in raw:
        raise InvalidArgument(f"{what}: entry {raw!r} contains a NUL byte")
    return "/".join(parts) if parts else "."
