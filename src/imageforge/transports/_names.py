"""Transport-qualified image names, spelled as skopeo spells them.

``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``, ``docker-archive:FILE[:REF]``,
``rootfs:DIR|TAR``, and a bare name for the local store (``busybox:1.36``;
``containers-storage:`` is not supported). ``docker://REF`` is a registry's: the
``remote`` package reads and writes it, and ``imageforge.pipeline`` puts both together
(``parse_location`` there takes every spelling).
"""

from __future__ import annotations

from dataclasses import dataclass

from imageforge.errors import InvalidArgument, Unsupported
from imageforge.oci import Reference

__all__ = ["TRANSPORTS", "TransportRef", "parse_transport_ref"]

TRANSPORTS = ("oci", "oci-archive", "docker-archive", "rootfs", "docker")


@dataclass(frozen=True)
class TransportRef:
    transport: str  # one of TRANSPORTS, or "store"
    path: str  # directory or file; for "store" the normalised reference
    tag: str | None = None  # oci tag / docker-archive reference

    def __str__(self) -> str:
        if self.transport == "store":
            return self.path
        suffix = f":{self.tag}" if self.tag else ""
        return f"{self.transport}:{self.path}{suffix}"


def parse_transport_ref(text: str) -> TransportRef:
    if text.startswith("docker://"):
        raise Unsupported(
            f"{text}: a registry is not one of the transports here",
            hint="imageforge.pipeline reads and writes registries (Session, pull, copy)",
        )
    transport, sep, rest = text.partition(":")
    if sep and transport in TRANSPORTS:
        if not rest:
            raise InvalidArgument(f"{text!r}: {transport}: needs a path")
        if transport == "rootfs":
            return TransportRef("rootfs", rest)
        path, _, tag = rest.partition(":")
        if not path:
            raise InvalidArgument(f"{text!r}: {transport}: needs a path")
        if transport == "docker-archive" and tag:
            tag = str(Reference.parse(tag).with_default_tag())
        return TransportRef(transport, path, tag or None)
    ref = Reference.parse(text).with_default_tag()
    return TransportRef("store", str(ref))
