"""Finding the image a user named: a store name or ID prefix, a transport, a registry.

One rule for every command that reads an image (inspect, tag, rmi, export, analyze,
sbom): ``docker://REF`` is a registry's, ``TRANSPORT:...`` a layout's or an archive's,
anything else a name in the store (normalised as docker does, ``busybox`` is
``docker.io/library/busybox:latest``) or a unique prefix of an image ID.

And one rule for which image of a multi-platform index a command reads
(:func:`image_for_platform`): the one ``--platform`` names; without it this machine's,
else the index's only image; anything else is an error that lists the platforms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, Image, ImageIndex, Platform, Reference, host_platform, media
from imageforge.pipeline._location import DOCKER, Location, remote_ref
from imageforge.pipeline._session import Session
from imageforge.store import Store
from imageforge.transports import TRANSPORTS, TransportRef, parse_transport_ref, select_platform

__all__ = [
    "Found",
    "NamedImage",
    "find_image",
    "filesystem_image",
    "find_in_store",
    "image_for_platform",
    "index_platforms",
    "open_image",
]


@dataclass(frozen=True)
class Found:
    """An image a user named: how to show it, and where it is."""

    name: str  # the store name (or digest) it resolved to, else the text as given
    location: Location


@dataclass(frozen=True)
class NamedImage:
    name: str
    image: Image


def find_in_store(store: Store, text: str) -> tuple[str, Digest]:
    """A name (normalised) or an ID prefix -> (the name to show, the manifest digest).
    An ID no name points to is shown as its digest."""
    try:
        name = str(Reference.parse(text).with_default_tag())
    except InvalidArgument:
        name = text
    try:
        return name, store.refs.get(name).digest
    except NotFound:
        digest = store.resolve(text)
        names = store.refs.names_for(digest)
        return (names[0] if names else str(digest)), digest


def find_image(session: Session, text: str) -> Found:
    """Where the image ``text`` names is; the store is opened only for a store name."""
    if text.startswith(DOCKER):
        return Found(text, remote_ref(text))
    transport = text.partition(":")[0]
    if transport in TRANSPORTS and ":" in text:
        return Found(text, parse_transport_ref(text))
    name, _ = find_in_store(session.store, text)
    return Found(name, TransportRef("store", name))


def index_platforms(index: ImageIndex) -> list[Platform]:
    """The platforms an index names images for, sorted, each once (an attestation's
    ``unknown/unknown`` and children without a platform left out)."""
    found = {
        d.platform
        for d in index.manifest().manifests
        if d.platform is not None
        and media.is_manifest(d.media_type)
        and "unknown" not in (d.platform.os, d.platform.architecture)
    }
    return sorted(found)


def image_for_platform(obj: Image | ImageIndex, platform: Platform | None, name: str) -> Image:
    """The image a command reads from ``obj`` (``name`` is how the user wrote it): ``obj``
    itself, or an index's image for ``platform``; without ``platform``, this machine's,
    else the index's only one. Anything else is :class:`~imageforge.errors.NotFound`
    listing the index's platforms. The one definition for every command that takes
    ``--platform`` (inspect, run, analyze, sbom, scan, export, pull, copy, ``FROM``)."""
    if not isinstance(obj, ImageIndex):
        return obj
    try:
        return select_platform(obj, platform)
    except NotFound:
        pass
    listed = index_platforms(obj)
    if platform is None and len(listed) == 1:
        return select_platform(obj, listed[0])
    if not listed:
        raise NotFound(
            f"{name}: an index that names no platform for any of its images",
            hint="copy or export it whole (--all) and read its images by digest",
        )
    has = ", ".join(str(p) for p in listed)
    if platform is None:
        raise NotFound(
            f"{name}: an index of several platforms ({has}) and none is this machine's "
            f"({host_platform()})",
            hint=f"choose one with --platform, e.g. --platform {listed[0]}",
        )
    raise NotFound(
        f"{name}: no image for {platform} in its index (it has {has})",
        hint="choose one of those with --platform, or build or pull the image for that platform",
    )


def _refuse_artifact(kind: str, name: str) -> NoReturn:
    raise InvalidArgument(
        f"{name}: not an image with a filesystem but an artifact ({kind}); it cannot be "
        "run, built on or analyzed",
        hint="a signature or attestation is checked with 'imageforge verify' or "
        "'verify-attestation'; name the image it belongs to",
    )


def filesystem_image(obj: Image | ImageIndex, platform: Platform | None, name: str) -> Image:
    """The image a command that reads a filesystem (run, ``FROM``, analyze, sbom, scan)
    gets from ``obj`` (see :func:`image_for_platform`). A signature, an attestation or
    another OCI artifact (a layer that is no filesystem layer, as ``media.is_layer``
    decides, or a config that is no image's), or an index listing only artifacts (a
    referrers index), is refused: it is stored and copied, never unpacked."""
    if isinstance(obj, ImageIndex):
        children = obj.manifest().manifests
        if children and all(d.artifact_type for d in children):
            _refuse_artifact(f"an index of {children[0].artifact_type}", name)
    image = image_for_platform(obj, platform, name)
    manifest = image.manifest()
    blobs = [d.media_type for d in manifest.layers if not media.is_layer(d.media_type)]
    config = manifest.config.media_type
    if blobs or not media.is_image_config(config):
        _refuse_artifact(manifest.artifact_type or (blobs[0] if blobs else config), name)
    return image


@contextmanager
def open_image(
    session: Session, text: str, platform: Platform | None = None
) -> Iterator[NamedImage]:
    """The image ``text`` names (an index's: see :func:`image_for_platform`), readable
    inside the ``with`` block."""
    found = find_image(session, text)
    with session.opened(found.location) as obj:
        yield NamedImage(found.name, filesystem_image(obj, platform, found.name))
