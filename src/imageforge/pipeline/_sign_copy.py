"""Signatures and attestations carried along when an image is copied from one place
that keeps them to another (registry repositories, the store, an OCI layout): ``copy``,
``pull``, ``push``, ``import`` and ``export`` alike, so a promoted image stays
verifiable. For every manifest written (an index and its images), what is attached to it
at the source in either layout is written to the destination.

An object is copied as it is (same bytes, same digest) in the layout it had, unless a
layout is asked for (``--registry-referrers-mode``): then its signed payloads are
attached anew in that layout (a payload's signature does not depend on the manifest
holding it). A legacy ``.sig``/``.att`` manifest whose tag the destination already has
(signed there too) gets the source's payloads appended, as ``sign`` appends, so neither
side's signatures are lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageforge.oci import Descriptor, Image, ImageIndex, walk_image_graph
from imageforge.pipeline._location import Location
from imageforge.pipeline._session import Session
from imageforge.pipeline._sign_repos import LayoutRepository, Repository, repository_for
from imageforge.pipeline._sign_store import (
    ATTESTATIONS,
    LEGACY,
    OCI_1_1,
    SIGNATURES,
    Target,
    attach,
    copy_object,
    find_attached,
)

__all__ = ["Carried", "carry_attached", "carry_between"]


@dataclass(frozen=True)
class Carried:
    """How many signature and attestation manifests a copy carried along."""

    signatures: int = 0
    attestations: int = 0


def carry_attached(
    source: Repository,
    destination: Repository,
    written: Image | ImageIndex,
    *,
    mode: str | None = None,
) -> Carried:
    """Copy what is attached to every manifest of ``written`` in ``source`` to
    ``destination``: in ``mode`` when given, else in the layout the destination keeps
    (an OCI layout: referrers), else in the layout each object had."""
    if type(source) is type(destination) and source.name == destination.name:
        return Carried()  # the same place: already there
    counts = {SIGNATURES.what: 0, ATTESTATIONS.what: 0}
    for node in walk_image_graph(written):
        desc = Descriptor(node.media_type, node.digest, len(node.raw_manifest()))
        src, dst = Target(source, desc), Target(destination, desc)
        for kind in (SIGNATURES, ATTESTATIONS):
            found = find_attached(src, kind)
            for digest, tag in found.objects:
                had = LEGACY if tag is not None else OCI_1_1
                wanted = mode or destination.layout or had
                if wanted != had or (tag is not None and destination.manifest(tag) is not None):
                    for attached in found.attached:
                        if attached.manifest == digest:
                            attach(dst, attached.layer, kind, wanted)
                else:
                    copy_object(src, dst, digest, tag)
                counts[kind.what] += 1
    return Carried(counts[SIGNATURES.what], counts[ATTESTATIONS.what])


def carry_between(
    session: Session,
    source: Location,
    destination: Location,
    written: Image | ImageIndex,
    *,
    mode: str | None = None,
) -> Carried:
    """:func:`carry_attached` between two locations, when both keep signatures."""
    src, dst = repository_for(session, source), repository_for(session, destination)
    try:
        if src is None or dst is None:
            return Carried()
        return carry_attached(src, dst, written, mode=mode)
    finally:
        for repository in (src, dst):
            if isinstance(repository, LayoutRepository):
                repository.close()
