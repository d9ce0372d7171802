"""Pull, push and copy: any source to any sink, registries included.

A registry image is pulled into the store under its full name (``host/repo:tag`` or
``host/repo@digest``), the host's image of a multi-platform index unless all of it is
asked for. A copy between two repositories of one registry mounts the blobs there
instead of moving them through this host. ``import_image`` and ``export_image`` are the
copies into and out of the store under the names a user gives, as ``import`` and
``export`` make them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, Image, ImageIndex, Platform, Reference
from imageforge.pipeline._location import (
    Location,
    location_text,
    parse_location,
    remote_ref,
    store_name,
)
from imageforge.pipeline._lookup import find_in_store, image_for_platform
from imageforge.pipeline._session import PULL_JOBS, Session
from imageforge.pipeline._sign_repos import keeps_attached, may_hold_attached
from imageforge.transports import TransportRef, staged_archive

if TYPE_CHECKING:
    from imageforge.remote import PushOptions

__all__ = ["Exported", "Imported", "Pulled", "copy", "export_image", "import_image", "pull"]


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
    signatures: bool = True,
) -> Pulled:
    """Pull ``[docker://]REF`` into the session's store: the image for ``platform``
    of an index (see :func:`image_for_platform`), or the whole index with
    ``all_platforms``; with its signatures and attestations (the ``.sig``/``.att``
    tags and referrers ``verify`` reads) unless ``signatures`` is False, so it
    verifies from the store with no registry."""
    ref = remote_ref(reference) if isinstance(reference, str) else reference
    name = store_name(ref)
    dest = TransportRef("store", name)
    with session.opened(ref) as obj:
        if isinstance(obj, ImageIndex) and not all_platforms:
            obj = image_for_platform(obj, platform, str(ref))
        session.write(obj, dest, jobs=PULL_JOBS)
        if signatures:
            _carry(session, ref, dest, obj, None)
    return Pulled(name, obj)


def _carry(
    session: Session,
    source: Location,
    destination: Location,
    written: Image | ImageIndex,
    mode: str | None,
) -> None:
    if not (keeps_attached(destination) and may_hold_attached(session, source, written)):
        return  # nothing to carry: and the signing code is not even imported
    from imageforge.pipeline._sign_copy import carry_between  # see _session: only when used

    carry_between(session, source, destination, written, mode=mode)


def copy(
    session: Session,
    source: Location | str,
    destination: Location | str,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
    push_options: PushOptions | None = None,
    signatures: bool = True,
    referrers_mode: str | None = None,
) -> Digest:
    """Copy an image from ``source`` to ``destination`` (each ``docker://REF``, a
    transport or a store name); an index is copied whole only with ``all_platforms``,
    else its image for ``platform`` (see :func:`image_for_platform`). Between places
    that keep signatures (registries, store names, ``oci:`` layouts) the signatures and
    attestations of what is written come along unless ``signatures`` is False
    (``_sign_copy``), in the layout each had or in ``referrers_mode``. Returns the
    digest written."""
    src = parse_location(source) if isinstance(source, str) else source
    dst = parse_location(destination) if isinstance(destination, str) else destination
    if isinstance(dst, TransportRef) and dst.transport == "rootfs":
        raise InvalidArgument(f"{str(destination)!r}: rootfs: is a source only")
    with session.opened(src) as obj:
        if isinstance(obj, ImageIndex) and not all_platforms:
            obj = image_for_platform(obj, platform, location_text(src))
        jobs = PULL_JOBS if isinstance(src, Reference) else 1
        if isinstance(dst, Reference):
            from imageforge.remote import PushOptions  # see _session: only when pushing

            options = push_options or PushOptions()
            if isinstance(src, Reference) and src.domain == dst.domain and src.path != dst.path:
                # same registry: mount blobs instead of copying them
                options = replace(options, mount_from=src.path)
            written = session.write(obj, dst, push_options=options)
        elif signatures and dst.transport == "oci-archive":
            # the archive is a layout written into a tar: carry into the layout first
            with staged_archive(Path(dst.path)) as staged:
                layout = TransportRef("oci", str(staged), dst.tag)
                written = session.write(obj, layout, jobs=jobs)
                _carry(session, src, layout, obj, referrers_mode)
            return written
        else:
            written = session.write(obj, dst, platform=platform, jobs=jobs)
        if signatures:
            _carry(session, src, dst, obj, referrers_mode)
        return written


@dataclass(frozen=True)
class Imported:
    """What an import stored: the names given (normalised), the digest and media type."""

    names: tuple[str, ...]
    digest: Digest
    media_type: str


def import_image(
    session: Session, source: Location | str, names: Sequence[str], *, signatures: bool = True
) -> Imported:
    """Copy the image (or index, whole) at ``source`` -- any location, a registry too --
    into the store under every name in ``names`` (``busybox`` is
    ``docker.io/library/busybox:latest``), with its signatures and attestations under
    the first name unless ``signatures`` is False."""
    if not names:
        raise InvalidArgument("nothing would name the import", hint="give -t NAME[:TAG]")
    full = tuple(store_name(Reference.parse(n)) for n in names)
    digest = copy(
        session, source, TransportRef("store", full[0]), all_platforms=True, signatures=signatures
    )
    media_type = session.store.refs.get(full[0]).media_type
    for extra in full[1:]:
        session.store.refs.set(extra, digest, media_type)
    return Imported(full, digest, media_type)


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the store name it read, where it wrote (the tag filled
    in), the digest and media type."""

    name: str
    destination: Location
    digest: Digest
    media_type: str


def export_image(
    session: Session,
    image: str,
    destination: Location | str,
    *,
    platform: Platform | None = None,
    signatures: bool = True,
) -> Exported:
    """Copy the store's ``image`` (a name or an ID prefix) to ``destination``: a layout,
    an archive or a registry. An index goes whole, or only its image for ``platform``
    when one is given; to ``docker-archive:``, which holds images only, always its image
    for ``platform`` (see :func:`image_for_platform`), as ``docker save --platform``. A
    layout or archive given no tag gets the image's own (``docker-archive:`` its whole
    name)."""
    name, _ = find_in_store(session.store, image)
    dest = parse_location(destination) if isinstance(destination, str) else destination
    if isinstance(dest, TransportRef) and dest.transport == "store":
        raise InvalidArgument(
            f"{str(destination)!r}: export needs oci:, oci-archive:, docker-archive: or docker://"
        )
    images_only = isinstance(dest, TransportRef) and dest.transport == "docker-archive"
    if isinstance(dest, TransportRef) and dest.tag is None and not name.startswith("sha256:"):
        tag = Reference.parse(name).tag if not images_only else name
        dest = TransportRef(dest.transport, dest.path, tag)
    whole = platform is None and not images_only
    written = copy(
        session,
        TransportRef("store", name),
        dest,
        platform=platform,
        all_platforms=whole,
        signatures=signatures,
    )
    media_type = session.store.read_manifest(written)[1].media_type
    return Exported(name, dest, written, media_type)
