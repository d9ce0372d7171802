"""New images from old, lazily: append layers, change the config, set timestamps; an
index of images (``index_of``, what a multi-platform build names).

Nothing is copied: the result's layers are the base's layer objects plus the new ones,
and its manifest and config are computed when first asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imageforge.errors import NotFound
from imageforge.oci import _media as media
from imageforge.oci._canonical import canonical_json
from imageforge.oci._descriptor import Descriptor
from imageforge.oci._digest import Digest, digest_bytes
from imageforge.oci._image import BaseImage, BaseIndex, Image, ImageIndex, Layer
from imageforge.oci._manifest import History, ImageConfig, IndexManifest, Manifest
from imageforge.oci._platform import Platform

__all__ = [
    "Addendum",
    "append_layers",
    "empty_image",
    "index_of",
    "set_config",
    "set_created",
]


@dataclass(frozen=True)
class Addendum:
    """A layer to append, with the history entry that explains it."""

    layer: Layer
    history: History | None = None


class MutatedImage(BaseImage):
    validate_schema = False  # its manifest and config are made here, not read

    def __init__(
        self,
        config: dict[str, Any],
        layers: Sequence[Layer],
        *,
        media_type: str = media.OCI_MANIFEST,
        annotations: dict[str, str] | None = None,
    ) -> None:
        self._config_data = config
        self._layers = list(layers)
        self._media_type = media_type
        self._annotations = dict(annotations or {})

    def raw_config(self) -> bytes:
        return canonical_json(self._config_data)

    def layers(self) -> Sequence[Layer]:
        return list(self._layers)

    def raw_manifest(self) -> bytes:
        raw_config = self.raw_config()
        docker = self._media_type == media.DOCKER_MANIFEST
        manifest = Manifest(
            config=Descriptor(
                media.DOCKER_CONFIG if docker else media.OCI_CONFIG,
                digest_bytes(raw_config),
                len(raw_config),
            ),
            layers=tuple(Descriptor(lyr.media_type, lyr.digest, lyr.size) for lyr in self._layers),
            media_type=self._media_type,
            annotations=self._annotations,
        )
        return manifest.to_bytes()


def empty_image(
    platform_os: str = "linux", architecture: str = "amd64", variant: str = ""
) -> Image:
    """An image with no layers (what ``FROM scratch`` starts from)."""
    config: dict[str, Any] = {"architecture": architecture, "os": platform_os}
    if variant:
        config["variant"] = variant
    config.update({"config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []})
    return MutatedImage(config, [])


def _data(image: Image) -> dict[str, Any]:
    return dict(image.config().data)


def append_layers(image: Image, *additions: Addendum) -> Image:
    data = _data(image)
    rootfs = dict(data.get("rootfs") or {"type": "layers"})
    diff_ids = list(rootfs.get("diff_ids") or [])
    history = list(data.get("history") or [])
    for add in additions:
        diff_ids.append(str(add.layer.diff_id))
        entry = add.history or History()
        history.append(entry.to_json())
    rootfs["diff_ids"] = diff_ids
    data["rootfs"] = rootfs
    data["history"] = history
    return MutatedImage(
        data, [*image.layers(), *(a.layer for a in additions)], media_type=_oci(image)
    )


def set_config(image: Image, config: ImageConfig) -> Image:
    """The same layers under a new config (its diff_ids must still match the layers)."""
    return MutatedImage(dict(config.data), image.layers(), media_type=_oci(image))


def set_created(image: Image, created: str) -> Image:
    """Set the image's and every history entry's ``created`` (for reproducible builds)."""
    data = _data(image)
    data["created"] = created
    data["history"] = [dict(h, created=created) for h in data.get("history") or []]
    return MutatedImage(data, image.layers(), media_type=_oci(image))


def _oci(image: Image) -> str:
    # A mutated image is written as OCI unless it started as Docker schema 2.
    return image.media_type if image.media_type in media.MANIFEST_TYPES else media.OCI_MANIFEST


class MemoryIndex(BaseIndex):
    """An OCI index of images held in memory, each named with its platform."""

    validate_schema = False  # made here, not read

    def __init__(self, entries: Sequence[tuple[Image, Platform | None]]) -> None:
        self._images = {image.digest: image for image, _ in entries}
        manifests = tuple(
            Descriptor(image.media_type, image.digest, len(image.raw_manifest()), platform=platform)
            for image, platform in entries
        )
        self._raw = IndexManifest(manifests=manifests).to_bytes()

    def raw_manifest(self) -> bytes:
        return self._raw

    def image(self, digest: Digest) -> Image:
        try:
            return self._images[digest]
        except KeyError:
            raise NotFound(f"index {self.digest} has no image {digest}") from None

    def index(self, digest: Digest) -> ImageIndex:
        raise NotFound(f"index {self.digest} has no child index {digest}")


def index_of(entries: Sequence[tuple[Image, Platform | None]]) -> ImageIndex:
    """An OCI image index naming each image with its platform (if given), in the order
    given."""
    return MemoryIndex(entries)
