"""The read-only image protocols every source and sink speaks, and a base class that
derives the wide surface from a small core.

An implementation provides ``raw_manifest()`` (and, for images, ``raw_config()`` and
``layers()``); the base memoises the digest and the parsed documents, so asking twice
costs nothing and nothing is computed that nobody asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import IO, Protocol, runtime_checkable

from imageforge.oci._digest import Digest, digest_bytes
from imageforge.oci._manifest import ImageConfig, IndexManifest, Manifest

__all__ = ["BaseImage", "BaseIndex", "Image", "ImageIndex", "Layer"]


@runtime_checkable
class Layer(Protocol):
    @property
    def digest(self) -> Digest: ...
    @property
    def diff_id(self) -> Digest: ...
    @property
    def size(self) -> int: ...
    @property
    def media_type(self) -> str: ...
    def open_compressed(self) -> IO[bytes]:
        """The blob as stored, verified against ``digest`` as it is read."""
        ...

    def open_uncompressed(self) -> IO[bytes]:
        """The layer tar, uncompressed."""
        ...


@runtime_checkable
class Image(Protocol):
    @property
    def digest(self) -> Digest: ...
    @property
    def media_type(self) -> str: ...
    def raw_manifest(self) -> bytes: ...
    def manifest(self) -> Manifest: ...
    def raw_config(self) -> bytes: ...
    def config(self) -> ImageConfig: ...
    def layers(self) -> Sequence[Layer]: ...


@runtime_checkable
class ImageIndex(Protocol):
    @property
    def digest(self) -> Digest: ...
    @property
    def media_type(self) -> str: ...
    def raw_manifest(self) -> bytes: ...
    def manifest(self) -> IndexManifest: ...
    def image(self, digest: Digest) -> Image: ...
    def index(self, digest: Digest) -> ImageIndex: ...


class BaseImage:
    """Subclasses implement ``raw_manifest``, ``raw_config`` and ``layers``.

    ``validate_schema``: check the manifest and config against the OCI JSON schemas
    when first parsed. Only images whose documents were already checked (made by
    imageforge, or admitted to the store through a check) turn it off: loading the
    schemas costs a short-lived process ~0.1 s."""

    validate_schema: bool = True

    def raw_manifest(self) -> bytes:
        raise NotImplementedError

    def raw_config(self) -> bytes:
        raise NotImplementedError

    def layers(self) -> Sequence[Layer]:
        raise NotImplementedError

    @cached_property
    def _manifest(self) -> Manifest:
        return Manifest.parse(self.raw_manifest(), validate=self.validate_schema)

    @cached_property
    def _config(self) -> ImageConfig:
        return ImageConfig.parse(self.raw_config(), validate=self.validate_schema)

    @cached_property
    def digest(self) -> Digest:
        return digest_bytes(self.raw_manifest())

    @property
    def media_type(self) -> str:
        return self._manifest.media_type

    def manifest(self) -> Manifest:
        return self._manifest

    def config(self) -> ImageConfig:
        return self._config

    def size(self) -> int:
        """Bytes of manifest, config and layers as stored (what a pull transfers)."""
        m = self._manifest
        return len(self.raw_manifest()) + m.config.size + sum(d.size for d in m.layers)


class BaseIndex:
    """Subclasses implement ``raw_manifest``, ``image`` and ``index``;
    ``validate_schema`` as for :class:`BaseImage`."""

    validate_schema: bool = True

    def raw_manifest(self) -> bytes:
        raise NotImplementedError

    @cached_property
    def _manifest(self) -> IndexManifest:
        return IndexManifest.parse(self.raw_manifest(), validate=self.validate_schema)

    @cached_property
    def digest(self) -> Digest:
        return digest_bytes(self.raw_manifest())

    @property
    def media_type(self) -> str:
        return self._manifest.media_type

    def manifest(self) -> IndexManifest:
        return self._manifest
