"""What ``images`` lists: one line of facts per ref, read from the stored documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imageforge.oci import Digest, ImageConfig, IndexManifest, Reference, media, walk_graph
from imageforge.store._refs import RefEntry
from imageforge.store._store import Store

__all__ = ["ImageSummary", "image_entries", "summarize"]


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


_Node = tuple[int, ImageConfig | None, list[Digest]]


def _node(store: Store, digest: Digest) -> _Node:
    """One stored manifest: its size as stored (an image's with its config and layers),
    an image's config, an index's children."""
    raw, doc = store.read_manifest(digest)
    if isinstance(doc, IndexManifest):
        return len(raw), None, [d.digest for d in doc.manifests]
    with store.blobs.open(doc.config.digest) as f:
        config = ImageConfig.parse(f.read())
    return len(raw) + doc.config.size + sum(d.size for d in doc.layers), config, []


def _is_artifact(store: Store, entry: RefEntry) -> bool:
    """A signature, an attestation, another OCI artifact (a layer that is no filesystem
    layer, as ``media.is_layer`` decides, or a config that is no image's), or an index
    listing only artifacts (a referrers index)."""
    _, doc = store.read_manifest(entry.digest)
    if isinstance(doc, IndexManifest):
        return bool(doc.manifests) and all(d.artifact_type for d in doc.manifests)
    if doc.config.media_type not in (media.OCI_CONFIG, media.DOCKER_CONFIG):
        return True
    return not all(media.is_layer(d.media_type) for d in doc.layers)


def image_entries(store: Store) -> list[RefEntry]:
    """The refs that name images: those naming what is attached to an image (kept
    beside it, see ``pipeline._sign_repos``) are left out."""
    return [entry for entry in store.refs.all() if not _is_artifact(store, entry)]


def summarize(store: Store, entry: RefEntry) -> ImageSummary:
    """The facts of one ref. An index adds up itself and every image and index below it
    that the store holds, each once; a child not pulled (or unreadable) is left out,
    with what is below it."""
    raw, doc = store.read_manifest(entry.digest)
    if not isinstance(doc, IndexManifest):
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
    nodes: dict[Digest, _Node] = {entry.digest: (len(raw), None, [d.digest for d in doc.manifests])}

    def held_children(digest: Digest) -> list[Digest]:
        held = []
        for child in nodes[digest][2]:
            if child not in nodes:
                try:
                    nodes[child] = _node(store, child)
                except Exception:  # noqa: BLE001 - a child not pulled: list what is there
                    continue
            held.append(child)
        return held

    below = list(walk_graph([entry.digest], held_children))  # images in the index's order
    configs = [cfg for d in below if (cfg := nodes[d][1]) is not None]
    return ImageSummary(
        entry.name,
        entry.digest,
        doc.media_type,
        entry.digest,
        max(filter(None, (c.created for c in configs)), default=None),
        sum(nodes[d][0] for d in below),
        tuple(str(c.platform) for c in configs),
    )
