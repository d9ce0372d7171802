"""Pull, push and copy: any source to any sink, registries included.

A registry image is pulled into the store under its full name (``host/repo:tag`` or
``host/repo@digest``), the host's image of a multi-platform index unless all of it is
asked for. A copy between two repositories of one registry mounts the blobs there
instead of moving them through this host.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, Image, ImageIndex, Platform, Reference
from imageforge.pipeline._location import Location, parse_location, remote_ref, store_name
from imageforge.pipeline._session import PULL_JOBS, Session
from imageforge.transports import TransportRef, select_platform

if TYPE_CHECKING:
    from imageforge.remote import PushOptions

__all__ = ["Pulled", "copy", "pull"]


@dataclass(frozen=True)
class Pulled:
    """What a pull stored: the local name and the image (or index) under it."""

    name: str
    image: Image | ImageIndex


def pull(
    session: Session,
    reference: Reference | str,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
) -> Pulled:
    """Pull ``[docker://]REF`` into the session's store: the image for ``platform``
    (default this host's) of an index, or the whole index with ``all_platforms``."""
    ref = remote_ref(reference) if isinstance(reference, str) else reference
    name = store_name(ref)
    with session.opened(ref) as obj:
        if isinstance(obj, ImageIndex) and not all_platforms:
            obj = select_platform(obj, platform)
        session.write(obj, TransportRef("store", name), jobs=PULL_JOBS)
    return Pulled(name, obj)


def copy(
    session: Session,
    source: Location | str,
    destination: Location | str,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
    push_options: PushOptions | None = None,
) -> Digest:
    """Copy an image from ``source`` to ``destination`` (each ``docker://REF``, a
    transport or a store name); an index is copied whole only with ``all_platforms``,
    else its image for ``platform``. Returns the digest written."""
    src = parse_location(source) if isinstance(source, str) else source
    dst = parse_location(destination) if isinstance(destination, str) else destination
    if isinstance(dst, TransportRef) and dst.transport == "rootfs":
        raise InvalidArgument(f"{str(destination)!r}: rootfs: is a source only")
    with session.opened(src) as obj:
        if isinstance(obj, ImageIndex) and not all_platforms:
            obj = select_platform(obj, platform)
        if isinstance(dst, Reference):
            from imageforge.remote import PushOptions  # see _session: only when pushing

            options = push_options or PushOptions()
            if isinstance(src, Reference) and src.domain == dst.domain and src.path != dst.path:
                # same registry: mount blobs instead of copying them
                options = replace(options, mount_from=src.path)
            return session.write(obj, dst, push_options=options)
        jobs = PULL_JOBS if isinstance(src, Reference) else 1
        return session.write(obj, dst, platform=platform, jobs=jobs)
