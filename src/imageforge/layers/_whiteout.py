"""OCI whiteouts (image-spec ``layer.md``): a member ``dir/.wh.<name>`` deletes ``dir/<name>``
from the layers below; ``dir/.wh..wh..opq`` makes ``dir`` opaque, hiding everything the
layers below put in it. Whiteouts apply only to lower layers, never to entries of their
own layer. Other ``.wh..wh.*`` names are reserved (AUFS metadata) and ignored."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from imageforge.layers._model import Entry, EntryType

__all__ = [
    "OPAQUE_WHITEOUT",
    "OVERLAY_OPAQUE_XATTR",
    "OVERLAY_XATTR_PREFIXES",
    "USERNS_OVERLAY_OPAQUE_XATTR",
    "WHITEOUT_PREFIX",
    "Whiteout",
    "WhiteoutKind",
    "opaque_whiteout_entry",
    "parse_whiteout",
    "whiteout_entry",
]

WHITEOUT_PREFIX: Final = ".wh."
OPAQUE_WHITEOUT: Final = ".wh..wh..opq"
_RESERVED: Final = ".wh..wh."
# overlayfs's spelling of an opaque directory: a trusted.* xattr, or with the userxattr
# mount option (the only one allowed in a user namespace) a user.* one.
OVERLAY_OPAQUE_XATTR: Final = "trusted.overlay.opaque"
USERNS_OVERLAY_OPAQUE_XATTR: Final = "user.overlay.opaque"
OVERLAY_XATTR_PREFIXES: Final = ("trusted.overlay.", "user.overlay.")


class WhiteoutKind(enum.Enum):
    DELETE = "delete"  # .wh.<name>: remove <name> from the layers below
    OPAQUE = "opaque"  # .wh..wh..opq: hide what the layers below put in the directory
    RESERVED = "reserved"  # other .wh..wh.* names: not content, ignored


@dataclass(frozen=True)
class Whiteout:
    """What a whiteout member means. ``target`` is the path deleted (DELETE) or the
    directory made opaque (OPAQUE), ``"."`` for the root."""

    kind: WhiteoutKind
    target: str


def _join(parent: str, name: str) -> str:
    return name if parent in ("", ".") else f"{parent}/{name}"


def parse_whiteout(path: str) -> Whiteout | None:
    """The whiteout a normalised member path stands for, or None for ordinary content."""
    parent, _, name = path.rpartition("/")
    if not name.startswith(WHITEOUT_PREFIX):
        return None
    if name == OPAQUE_WHITEOUT:
        return Whiteout(WhiteoutKind.OPAQUE, parent or ".")
    if name.startswith(_RESERVED):
        return Whiteout(WhiteoutKind.RESERVED, path)
    target = name[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        return Whiteout(WhiteoutKind.RESERVED, path)
    return Whiteout(WhiteoutKind.DELETE, _join(parent, target))


def whiteout_entry(path: str, *, mtime: int = 0) -> Entry:
    """The member that deletes ``path`` (normalised) from the layers below."""
    parent, _, name = path.rpartition("/")
    return Entry(_join(parent, WHITEOUT_PREFIX + name), EntryType.FILE, mode=0o644, mtime=mtime)


def opaque_whiteout_entry(directory: str, *, mtime: int = 0) -> Entry:
    """The member that makes ``directory`` (normalised, ``"."`` for the root) opaque."""
    return Entry(_join(directory, OPAQUE_WHITEOUT), EntryType.FILE, mode=0o644, mtime=mtime)
