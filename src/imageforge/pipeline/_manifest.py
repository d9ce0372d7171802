"""Manifest lists (``imageforge manifest``, as podman's and buildah's ``manifest``
commands and buildx's ``imagetools create``): an OCI index in the store, made from
images built separately (on other machines, by other tools), each named with its
platform; pushed with all its images like any index.
"""

from __future__ import annotations

from collections.abc import Sequence

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import (
    Image,
    ImageIndex,
    Platform,
    Reference,
    image_children,
    mutate,
)
from imageforge.pipeline._base import FromResolver
from imageforge.pipeline._location import store_name
from imageforge.pipeline._session import Session
from imageforge.transports import TransportRef

__all__ = ["ListEntry", "manifest_add", "manifest_create", "manifest_remove", "open_list"]

ListEntry = tuple[Image, Platform | None]


def _name(text: str) -> str:
    return store_name(Reference.parse(text))


def open_list(session: Session, name: str) -> tuple[str, list[ListEntry]]:
    """The store's manifest list ``name``: its full name and its images with their
    platforms, in its order."""
    full = _name(name)
    found = session.open(TransportRef("store", full))
    if not isinstance(found, ImageIndex):
        raise InvalidArgument(
            f"{name} is an image, not a manifest list",
            hint=f"make one with: imageforge manifest create LIST {name}",
        )
    entries: list[ListEntry] = []
    for desc, child in zip(found.manifest().manifests, image_children(found), strict=True):
        if isinstance(child, ImageIndex):
            raise InvalidArgument(f"{name}: child {desc.digest} is an index; lists nest no index")
        entries.append((child, desc.platform))
    return full, entries


def _entries(
    session: Session, image: str, platform: Platform | None, all_platforms: bool
) -> list[ListEntry]:
    """What ``image`` adds: itself, named with ``platform`` or its config's; of an index,
    its image for ``platform`` (default: this machine's), or all of them."""
    resolver = FromResolver(session)
    if not all_platforms:
        chosen = resolver(image, str(platform) if platform else None)
        return [(chosen, platform or chosen.config().platform.normalized())]
    found = session.open(image)  # where it is: the store, a layout, docker://
    if not isinstance(found, ImageIndex):
        return [(found, platform or found.config().platform.normalized())]
    out: list[ListEntry] = []
    for desc, child in zip(found.manifest().manifests, image_children(found), strict=True):
        if isinstance(child, Image):
            out.append((child, desc.platform or child.config().platform.normalized()))
    return out


def _save(session: Session, name: str, entries: Sequence[ListEntry]) -> ImageIndex:
    index = mutate.index_of(entries)
    session.write(index, TransportRef("store", name))
    return index


def manifest_create(
    session: Session, name: str, images: Sequence[str] = (), *, all_platforms: bool = False
) -> ImageIndex:
    """A new manifest list ``name`` in the store, of ``images`` (none: empty)."""
    full = _name(name)
    try:
        session.store.refs.get(full)
    except NotFound:
        pass
    else:
        raise InvalidArgument(
            f"{name} already exists in the store",
            hint="add to it with 'imageforge manifest add', or remove it with 'rmi' first",
        )
    entries: list[ListEntry] = []
    for image in images:
        entries = _merge(entries, _entries(session, image, None, all_platforms))
    return _save(session, full, entries)


def _merge(entries: list[ListEntry], new: Sequence[ListEntry]) -> list[ListEntry]:
    """``entries`` with ``new`` added; an image already listed is named again with the
    new platform, in its place."""
    out = list(entries)
    for image, platform in new:
        same = [i for i, (have, _) in enumerate(out) if have.digest == image.digest]
        if same:
            out[same[0]] = (image, platform)
        else:
            out.append((image, platform))
    return out


def manifest_add(
    session: Session,
    name: str,
    image: str,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
) -> ImageIndex:
    """Add ``image`` to the list ``name`` (see :func:`manifest_create`); ``platform``
    overrides the platform it is named with (an index's: picks its image)."""
    full, entries = open_list(session, name)
    return _save(session, full, _merge(entries, _entries(session, image, platform, all_platforms)))


def manifest_remove(session: Session, name: str, digest: str) -> ImageIndex:
    """The list ``name`` without the image ``digest``."""
    full, entries = open_list(session, name)
    kept = [(image, plat) for image, plat in entries if str(image.digest) != digest]
    if len(kept) == len(entries):
        raise NotFound(f"{name} lists no image {digest}")
    return _save(session, full, kept)
