"""The one resolver of ``FROM`` (and of ``run IMAGE``), with the rule for when to pull.

A store name, ``oci:``, ``oci-archive:``, ``docker-archive:`` or ``rootfs:`` is read
where it is. A name that is not in the store but spells out a registry
(``host[:port]/repo:tag``, ``repo@sha256:...``) or ``docker://REF`` is pulled into the
store first, so the next build finds it there; a bare ``busybox`` is never fetched from
Docker Hub unasked. A base that is an index gives the image for the platform asked, else
this machine's (never another platform's only image, as buildah and BuildKit refuse it).
"""

from __future__ import annotations

from imageforge.errors import NotFound
from imageforge.oci import Image, Platform, Reference, host_platform
from imageforge.pipeline._copy import pull
from imageforge.pipeline._location import DOCKER, names_registry, remote_ref
from imageforge.pipeline._lookup import filesystem_image
from imageforge.pipeline._session import Session
from imageforge.transports import TransportRef, parse_transport_ref

__all__ = ["FromResolver"]


class FromResolver:
    """A :data:`imageforge.builder.BaseResolver` over a :class:`Session`: images it
    returns stay readable until the session closes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _pull(self, ref: Reference, platform: Platform) -> str:
        self.session.progress.note(f"pulling {ref}")
        return pull(self.session, ref, platform=platform).name

    def __call__(self, name: str, platform: str | None) -> Image:
        # This machine's unless asked: never another platform's only image.
        wanted = Platform.parse(platform) if platform else host_platform()
        if name.startswith(DOCKER):
            tref = TransportRef("store", self._pull(remote_ref(name), wanted))
        else:
            tref = parse_transport_ref(name)
            if tref.transport == "store" and names_registry(name):
                try:
                    self.session.store.refs.get(tref.path)
                except NotFound:
                    self._pull(Reference.parse(name), wanted)
        return filesystem_image(self.session.open(tref), wanted, name)
