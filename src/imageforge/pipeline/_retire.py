"""``retire``: an image taken out of use -- archived with its signatures and
attestations to an ``oci-archive:`` (``import`` restores it under the same digest),
then deleted where it was (its manifest and tags at a registry; its names in the store,
whose unreferenced blobs are then collected)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageforge.errors import Unavailable
from imageforge.oci import Digest, Reference
from imageforge.pipeline._copy import copy
from imageforge.pipeline._location import Location, location_text, parse_location
from imageforge.pipeline._lookup import find_in_store
from imageforge.pipeline._session import Session
from imageforge.transports import TransportRef

__all__ = ["Retired", "retire"]


@dataclass(frozen=True)
class Retired:
    """What ``retire`` did (or, with ``dry_run``, would do)."""

    image: str
    digest: Digest
    archive: str | None
    deleted: tuple[str, ...]
    freed: int
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "digest": str(self.digest),
            "archive": self.archive,
            "deleted": list(self.deleted),
            "freedBytes": self.freed,
            "dryRun": self.dry_run,
        }


def _where(session: Session, image: str) -> Location:
    if image.startswith("docker://"):
        return parse_location(image)
    name, _ = find_in_store(session.store, image)
    return TransportRef("store", name)


def retire(
    session: Session, image: str, *, archive: Path | None = None, dry_run: bool = False
) -> Retired:
    """Retire ``image`` (``docker://REF`` or a store name): archived whole (every image
    of an index) with its referrers to ``archive`` when given, then its manifest deleted
    at the registry (its tags go with it) or its store names removed and the store's
    unreferenced blobs pruned. With ``dry_run`` only what would be done is returned."""
    where = _where(session, image)
    with session.opened(where) as obj:
        digest: Digest = obj.digest
    text = location_text(where)
    archive_text = None
    if archive is not None:
        tag = where.tag if isinstance(where, Reference) else None
        if isinstance(where, TransportRef):
            tag = Reference.parse(where.path).tag
        dest = TransportRef("oci-archive", str(archive), tag)
        archive_text = location_text(dest)
        if not dry_run:
            copy(session, where, dest, all_platforms=True)
    if isinstance(where, Reference):
        deleted = (f"{where.name}@{digest}",)
        if not dry_run:
            try:
                session.client.request(
                    "DELETE",
                    where.domain,
                    f"/v2/{where.path}/manifests/{digest}",
                    what=f"manifest {where.path}@{digest}",
                    ok=(200, 202),
                )
            except Unavailable as exc:
                raise Unavailable(
                    f"{where.domain} does not answer: {exc.message}",
                    hint="the image was archived; run retire again to delete it",
                ) from None
        return Retired(text, digest, archive_text, deleted, 0, dry_run)
    names = tuple(session.store.refs.names_for(digest))
    freed = 0
    if not dry_run:
        from imageforge.pipeline._prune import prune

        for name in names:
            session.store.refs.delete(name)
        pruned = prune(session.store)
        freed = pruned.blobs.freed + pruned.snapshots_freed
    return Retired(text, digest, archive_text, names, freed, dry_run)
