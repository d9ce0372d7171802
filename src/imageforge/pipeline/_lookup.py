"""Finding the image a user named: a store name or ID prefix, a transport, a registry.

One rule for every command that reads an image (inspect, tag, rmi, export, analyze,
sbom): ``docker://REF`` is a registry's, ``TRANSPORT:...`` a layout's or an archive's,
anything else a name in the store (normalised as docker does, ``busybox`` is
``docker.io/library/busybox:latest``) or a unique prefix of an image ID.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, Image, Platform, Reference
from imageforge.pipeline._location import DOCKER, Location, remote_ref
from imageforge.pipeline._session import Session
from imageforge.store import Store
from imageforge.transports import TRANSPORTS, TransportRef, parse_transport_ref, select_platform

__all__ = ["Found", "NamedImage", "find_image", "find_in_store", "open_image"]


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


@contextmanager
def open_image(
    session: Session, text: str, platform: Platform | None = None
) -> Iterator[NamedImage]:
    """The image ``text`` names (an index's image for ``platform``, default this
    host's), readable inside the ``with`` block."""
    found = find_image(session, text)
    with session.opened(found.location) as obj:
        yield NamedImage(found.name, select_platform(obj, platform))
