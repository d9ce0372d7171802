"""Pull replication's two sides: the remote registry images are read from (the
:class:`Source` seam, with the :class:`Puller` that copies one image, both implemented
outside the registry over the registry client and injected by ``registry serve``), and
this registry they are written into, :class:`LocalRegistry`.

:class:`LocalRegistry` writes only through the registry's services, as a client's push
does: blobs through an upload session (``Uploads``: the digest verified on commit, the
link quota-checked), manifests through ``Manifests.push`` (their checks, the push gates
such as immutable tags, scan on push), deletions through ``Manifests.delete`` (the
delete gates); each manifest stored or tag deleted is a ``push``/``delete`` event, so
webhooks (and on-push rules) hear of it as of a client's push."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from imageforge.oci import Digest
from imageforge.registry._names import project_of
from imageforge.registry.events import Event, EventSink, Resource
from imageforge.registry.service import (
    OPERATOR,
    Manifests,
    ManifestUnknown,
    Uploads,
)

__all__ = ["LocalRegistry", "Source"]

_LOG = logging.getLogger("imageforge.registry.replication")


class Source(Protocol):
    """A remote registry images are pulled from. Its methods raise ``NotFound`` for
    what it does not have, ``Unavailable`` when it cannot be reached, and
    ``InvalidArgument`` for an answer that is not one (a redirect to another host)."""

    def repositories(self) -> list[str] | None:
        """Its repositories (``/v2/_catalog``); None if it lists none (Docker Hub)."""
        ...

    def tags(self, repository: str) -> list[str]:
        """The tags of ``repository`` (``/v2/<name>/tags/list``)."""
        ...

    def digest(self, repository: str, tag: str) -> Digest:
        """The digest ``repository:tag`` names now."""
        ...

    def labels(self, repository: str, digest: Digest) -> dict[str, str]:
        """The labels of image ``digest``'s config ({} for an index or an artifact)."""
        ...

    def close(self) -> None: ...


class LocalRegistry:
    """This registry, written through its services as ``user`` (None: the operator)."""

    def __init__(
        self, manifests: Manifests, uploads: Uploads, events: EventSink, user: str | None = None
    ) -> None:
        self.manifests = manifests
        self.uploads = uploads
        self.meta = manifests.meta
        self.storage = manifests.storage
        self.events = events
        self.user = user
        self._operator = "operator" if user == OPERATOR else user  # as events name it

    def has_manifest(self, repo: str, digest: Digest) -> bool:
        return self.meta.manifest(repo, digest) is not None

    def has_blob(self, repo: str, digest: Digest) -> bool:
        """Whether ``repo`` has the blob now: linked already, or stored for another
        repository and linked here (as a cross-repository mount, quota checked)."""
        if self.meta.blob_linked(repo, digest):
            return True
        if not self.storage.exists(digest):
            return False
        self.uploads.link(repo, digest)
        return True

    def write_blob(self, repo: str, digest: Digest, chunks: Iterable[bytes]) -> int:
        """Store the blob ``chunks`` make up in ``repo`` through an upload session:
        refused (DigestInvalid) and nothing kept if they do not hash to ``digest``;
        the bytes written."""
        session = self.uploads.begin(repo)
        try:
            for chunk in chunks:
                session.write(chunk)
            written = session.offset
            self.uploads.commit(session, digest)
        except BaseException:
            if not session.finished:
                self.uploads.cancel(session)
            raise
        finally:
            self.uploads.release(session)
        return written

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> Digest:
        """Push the manifest ``raw`` to ``repo`` under ``ref`` (a tag or its digest)."""
        row = self.manifests.push(repo, ref, raw, media_type, self.user)
        tag = None if ":" in ref else ref
        resource = Resource(str(row.digest), tag)
        self._emit(Event("push", project_of(repo), self._operator, repo, [resource]))
        return row.digest

    def delete_tag(self, repo: str, tag: str) -> None:
        """Delete ``repo:tag`` (gone already: nothing to do)."""
        digest = self.meta.resolve_tag(repo, tag)
        try:
            self.manifests.delete(repo, tag, self.user)
        except ManifestUnknown:
            return
        resource = Resource(str(digest or ""), tag)
        self._emit(Event("delete", project_of(repo), self._operator, repo, [resource]))

    def _emit(self, event: Event) -> None:
        try:
            self.events.emit(event)
        except Exception as exc:  # done already: a lost event does not undo it
            _LOG.warning("%s event of %s not emitted: %s", event.type, event.repository, exc)
