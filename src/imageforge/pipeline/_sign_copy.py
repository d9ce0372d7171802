"""Signatures and attestations carried along when an image is copied from one registry
repository to another (``copy docker://A docker://B``), so a promoted image stays
verifiable: for every manifest written (an index and its images), what is attached to it
at the source in either layout is written to the destination in the same layout.

A referrer is copied as it is (same bytes, same digest). A legacy ``.sig``/``.att``
manifest is copied as it is when the destination has none for that digest; when it has
one (signed there too), the source's signed payloads are appended to it, as ``sign``
appends, so neither side's signatures are lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageforge.errors import NotFound
from imageforge.oci import Descriptor, Image, ImageIndex, Reference, walk_image_graph
from imageforge.pipeline._session import Session
from imageforge.pipeline._sign_store import (
    ATTESTATIONS,
    LEGACY,
    SIGNATURES,
    Target,
    attach,
    copy_object,
    find_attached,
)
from imageforge.remote import registry_host

__all__ = ["Carried", "carry_attached"]


@dataclass(frozen=True)
class Carried:
    """How many signature and attestation manifests a copy carried along."""

    signatures: int = 0
    attestations: int = 0


def carry_attached(
    session: Session, source: Reference, destination: Reference, written: Image | ImageIndex
) -> Carried:
    """Copy what is attached to every manifest of ``written`` in ``source``'s repository
    to ``destination``'s."""
    if registry_host(source.domain) == registry_host(destination.domain) and (
        source.path == destination.path
    ):
        return Carried()  # the same repository: already there
    client = session.client
    counts = {SIGNATURES.what: 0, ATTESTATIONS.what: 0}
    for node in walk_image_graph(written):
        desc = Descriptor(node.media_type, node.digest, len(node.raw_manifest()))
        src, dst = Target(source, desc), Target(destination, desc)
        for kind in (SIGNATURES, ATTESTATIONS):
            found = find_attached(client, src, kind)
            for digest, tag in found.objects:
                if tag is not None and _has_tag(session, dst, tag):
                    for attached in found.attached:
                        if attached.layout == LEGACY and attached.manifest == digest:
                            attach(client, dst, attached.layer, kind, LEGACY)
                else:
                    copy_object(client, src, dst, digest, tag)
                counts[kind.what] += 1
    return Carried(counts[SIGNATURES.what], counts[ATTESTATIONS.what])


def _has_tag(session: Session, target: Target, tag: str) -> bool:
    try:
        session.client.get_manifest(target.host, target.repo, tag)
    except NotFound:
        return False
    return True
