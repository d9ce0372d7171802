"""Images and indexes backed by any blob opener (the local store, an OCI layout, a tar).

Every read is verified: manifests and configs against the digest that named them,
layer blobs through a :class:`~imageforge.oci.VerifyingReader` as they stream.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import IO

from imageforge.errors import DigestMismatch
from imageforge.layers._compression import open_decompressed
from imageforge.oci import (
    BaseImage,
    BaseIndex,
    Descriptor,
    Digest,
    Image,
    ImageIndex,
    Layer,
    VerifyingReader,
    digest_bytes,
    layers_with_diff_ids,
    media,
)

__all__ = ["BlobImage", "BlobIndex", "BlobLayer", "Opener", "open_image_or_index", "read_verified"]

Opener = Callable[[Digest], IO[bytes]]
MAX_DOCUMENT = 4 * 1024 * 1024  # manifests and configs above this are refused


def read_verified(opener: Opener, desc: Descriptor | Digest, what: str) -> bytes:
    """A small blob (manifest, config) read whole and checked against its digest."""
    digest = desc.digest if isinstance(desc, Descriptor) else desc
    with opener(digest) as f:
        raw = f.read(MAX_DOCUMENT + 1)
    if len(raw) > MAX_DOCUMENT:
        raise DigestMismatch(f"{what} {digest} is larger than {MAX_DOCUMENT} bytes")
    actual = digest_bytes(raw, digest.algorithm)
    if actual != digest:
        raise DigestMismatch(
            f"{what} {digest}: content has digest {actual}",
            expected=str(digest),
            actual=str(actual),
            hint="the source is corrupted",
        )
    if isinstance(desc, Descriptor) and len(raw) != desc.size:
        raise DigestMismatch(f"{what} {digest}: {len(raw)} bytes, descriptor says {desc.size}")
    return raw


CHUNK = 1 << 20


class _RawStream(io.RawIOBase):
    """A read function as a raw binary stream, so it can be buffered and used in ``with``."""

    def __init__(self, read: Callable[[int], bytes], close: Callable[[], None]) -> None:
        super().__init__()
        self._read = read
        self._close = close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._close()
        super().close()


class BlobLayer:
    def __init__(self, desc: Descriptor, diff_id: Digest, opener: Opener) -> None:
        self._desc = desc
        self._diff_id = diff_id
        self._opener = opener

    @property
    def digest(self) -> Digest:
        return self._desc.digest

    @property
    def diff_id(self) -> Digest:
        return self._diff_id

    @property
    def size(self) -> int:
        return self._desc.size

    @property
    def media_type(self) -> str:
        return self._desc.media_type

    @property
    def descriptor(self) -> Descriptor:
        return self._desc

    def open_unverified(self) -> IO[bytes]:
        """The blob's bytes as the source has them, for a sink that verifies on commit
        (the store's ingest does), so the bytes are not hashed twice."""
        return self._opener(self.digest)

    def open_compressed(self) -> IO[bytes]:
        return VerifyingReader(  # type: ignore[return-value]
            self._opener(self.digest), self.digest, self.size, what=f"layer {self.digest}"
        )

    def open_uncompressed(self) -> IO[bytes]:
        compressed = self.open_compressed()
        try:
            reader = open_decompressed(
                compressed, media_type=self.media_type, what=f"layer {self.digest}"
            )
        except BaseException:
            compressed.close()
            raise
        return io.BufferedReader(_RawStream(reader.read, compressed.close), CHUNK)


class BlobImage(BaseImage):
    """An image read from ``opener``; ``validate=False`` only for blobs that were
    schema-checked on their way into the store (see ``BaseImage.validate_schema``)."""

    def __init__(self, opener: Opener, raw_manifest: bytes, *, validate: bool = True) -> None:
        self._opener = opener
        self._raw = raw_manifest
        self.validate_schema = validate

    def raw_manifest(self) -> bytes:
        return self._raw

    @cached_property
    def _raw_config(self) -> bytes:
        return read_verified(self._opener, self.manifest().config, "config")

    def raw_config(self) -> bytes:
        return self._raw_config

    def layers(self) -> Sequence[Layer]:
        manifest = self.manifest()
        if not media.is_image_config(manifest.config.media_type):
            # An OCI 1.1 artifact: its config is not an image's (often the empty
            # descriptor) and its layers are plain blobs, which have no diff_id but
            # their own digest.
            return [BlobLayer(desc, desc.digest, self._opener) for desc in manifest.layers]
        pairs = layers_with_diff_ids(manifest, self.config())
        return [BlobLayer(desc, diff_id, self._opener) for desc, diff_id in pairs]


class BlobIndex(BaseIndex):
    def __init__(self, opener: Opener, raw_manifest: bytes, *, validate: bool = True) -> None:
        self._opener = opener
        self._raw = raw_manifest
        self.validate_schema = validate

    def raw_manifest(self) -> bytes:
        return self._raw

    def _child(self, digest: Digest) -> Descriptor:
        for desc in self.manifest().manifests:
            if desc.digest == digest:
                return desc
        raise DigestMismatch(f"index {self.digest} has no child {digest}")

    def image(self, digest: Digest) -> Image:
        raw = read_verified(self._opener, self._child(digest), "manifest")
        return BlobImage(self._opener, raw, validate=self.validate_schema)

    def index(self, digest: Digest) -> ImageIndex:
        raw = read_verified(self._opener, self._child(digest), "index")
        return BlobIndex(self._opener, raw, validate=self.validate_schema)


def open_image_or_index(
    opener: Opener, desc: Descriptor, *, validate: bool = True
) -> Image | ImageIndex:
    raw = read_verified(opener, desc, "manifest")
    if media.is_index(desc.media_type):
        return BlobIndex(opener, raw, validate=validate)
    return BlobImage(opener, raw, validate=validate)
