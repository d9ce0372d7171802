"""What ``images`` lists: one line of facts per ref, read from the stored documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imageforge.oci import Digest, ImageConfig, IndexManifest, Reference
from imageforge.store._refs import RefEntry
from imageforge.store._store import Store

__all__ = ["ImageSummary", "summarize"]


@dataclass(frozen=True)
class ImageSummary:
    name: str
    digest: Digest
    media_type: str
    image_id: Digest  # the config digest for an image, the index digest for an index
    created: str | None
    size: int  # bytes as stored: manifest(s), config(s), layers
    platforms: tuple[str, ...]

    @property
    def repository(self) -> str:
        ref = Reference.parse(self.name)
        return ref.familiar().rsplit(":", 1)[0] if ref.tag else ref.familiar()

    @property
    def tag(self) -> str:
        return Reference.parse(self.name).tag or ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "repository": self.repository,
            "tag": self.tag,
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "id": str(self.image_id),
            "created": self.created,
            "size": self.size,
            "platforms": list(self.platforms),
        }


def summarize(store: Store, entry: RefEntry) -> ImageSummary:
    raw, doc = store.read_manifest(entry.digest)
    if isinstance(doc, IndexManifest):
        size = len(raw)
        platforms: list[str] = []
        created = None
        for child in doc.manifests:
            try:
                sub = summarize(store, RefEntry(entry.name, child.digest, child.media_type, 0))
            except Exception:  # noqa: BLE001 - a child not pulled: list what is there
                continue
            size += sub.size
            platforms.extend(sub.platforms)
            created = max(filter(None, [created, sub.created]), default=None)
        return ImageSummary(
            entry.name, entry.digest, doc.media_type, entry.digest, created, size, tuple(platforms)
        )
    with store.blobs.open(doc.config.digest) as f:
        config = ImageConfig.parse(f.read())
    size = len(raw) + doc.config.size + sum(d.size for d in doc.layers)
    return ImageSummary(
        entry.name,
        entry.digest,
        doc.media_type,
        doc.config.digest,
        config.created,
        size,
        (str(config.platform),),
    )
