"""Where an image is, as a user writes it: ``docker://REF`` (a registry), a transport
(``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``, ``docker-archive:FILE[:NAME]``,
``rootfs:DIR|TAR``) or a name in the local store. One parser for every command, so a
registry is a source and a sink like any other."""

from __future__ import annotations

from imageforge.oci import Reference
from imageforge.transports import TransportRef, parse_transport_ref

__all__ = [
    "DOCKER",
    "Location",
    "location_text",
    "names_registry",
    "parse_location",
    "remote_ref",
    "store_name",
]

DOCKER = "docker://"

Location = Reference | TransportRef
"""A registry reference (``docker://``) or any other transport, the store included."""


def remote_ref(text: str) -> Reference:
    """``[docker://]REF`` -> a reference (``:latest`` added when it has no tag or digest)."""
    return Reference.parse(text.removeprefix(DOCKER)).with_default_tag()


def store_name(ref: Reference) -> str:
    """The local name of a pulled reference: ``host/repo:tag`` or ``host/repo@digest``."""
    return str(ref.with_default_tag())


def parse_location(text: str) -> Location:
    """``docker://REF`` -> :class:`~imageforge.oci.Reference`; anything else -> a
    :class:`~imageforge.transports.TransportRef` (a bare name is the store's)."""
    if text.startswith(DOCKER):
        return remote_ref(text)
    return parse_transport_ref(text)


def location_text(location: Location) -> str:
    """``location`` spelled so :func:`parse_location` reads it back."""
    if isinstance(location, Reference):
        return DOCKER + str(location)
    return str(location)


def names_registry(name: str) -> bool:
    """True if ``name`` spells out a registry host or a digest (what is pulled when it
    is not in the store; a bare ``busybox`` is not fetched from Docker Hub unasked)."""
    first, sep, _ = name.partition("/")
    has_host = bool(sep) and ("." in first or ":" in first or first == "localhost")
    return has_host or "@" in name
