"""Re-derive every digest, size and diff_id of an image from its bytes."""

from __future__ import annotations

from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.oci._digest import digest_bytes, digest_file
from imageforge.oci._image import Image
from imageforge.oci._manifest import layers_with_diff_ids

__all__ = ["validate_image"]


def validate_image(image: Image) -> None:
    """Raise :class:`DigestMismatch` or :class:`InvalidArgument` at the first thing that
    does not add up: config digest/size, layer count vs diff_ids, each layer's digest and
    size (read in full) and the diff_id of its uncompressed tar."""
    manifest = image.manifest()
    raw_config = image.raw_config()
    actual = digest_bytes(raw_config, manifest.config.digest.algorithm)
    if actual != manifest.config.digest or len(raw_config) != manifest.config.size:
        raise DigestMismatch(
            f"config is {actual} ({len(raw_config)} bytes), manifest says "
            f"{manifest.config.digest} ({manifest.config.size} bytes)",
            expected=str(manifest.config.digest),
            actual=str(actual),
        )
    pairs = layers_with_diff_ids(manifest, image.config())
    layers = image.layers()
    if len(layers) != len(pairs):
        raise InvalidArgument(f"image yields {len(layers)} layers, manifest lists {len(pairs)}")
    for i, ((desc, diff_id), layer) in enumerate(zip(pairs, layers, strict=True)):
        if layer.digest != desc.digest:
            raise DigestMismatch(
                f"layer {i}: object has digest {layer.digest}, manifest says {desc.digest}"
            )
        with layer.open_compressed() as f:
            got, size = digest_file(f, desc.digest.algorithm)
        if got != desc.digest or size != desc.size:
            raise DigestMismatch(
                f"layer {i}: blob is {got} ({size} bytes), manifest says "
                f"{desc.digest} ({desc.size} bytes)",
                expected=str(desc.digest),
                actual=str(got),
            )
        with layer.open_uncompressed() as f:
            got, _ = digest_file(f, diff_id.algorithm)
        if got != diff_id:
            raise DigestMismatch(
                f"layer {i}: uncompressed content is {got}, config diff_id says {diff_id}",
                expected=str(diff_id),
                actual=str(got),
            )
