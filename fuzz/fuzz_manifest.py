"""Fuzz the readers of manifest, index and config JSON the way the store, ``import`` and
the registry client read hostile documents: :func:`parse_any` by content and by each
media type, :class:`Manifest`, :class:`IndexManifest` and :class:`ImageConfig` with the
OCI schema check, the typed views the rest of imageforge uses (diff_ids, history,
platform, descriptors), canonical re-serialisation, and the digest, reference and
platform strings a document or a user can carry.

Any exception that is not an :class:`~imageforge.errors.ImageforgeError` escapes and is a
finding. Run with ``fuzz/run.sh manifest MINUTES`` (see fuzz/README.md).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["imageforge.oci"]):
    from imageforge.errors import ImageforgeError
    from imageforge.oci import (
        Digest,
        ImageConfig,
        IndexManifest,
        Manifest,
        Platform,
        Reference,
        layers_with_diff_ids,
        parse_any,
    )

_HOST = Platform("linux", "amd64")


def _strings(text: str) -> None:
    for parse in (Digest, Reference.parse, Platform.parse):
        try:
            parse(text)
        except ImageforgeError:
            pass


def _config(data: bytes) -> ImageConfig | None:
    try:
        config = ImageConfig.parse(data)
    except ImageforgeError:
        return None
    views = (config.architecture, config.os, config.created, config.history, config.config)
    assert all(v is not None for v in views[:2])
    config.platform.matches(_HOST)
    config.to_bytes()
    return config


def test_one_input(data: bytes) -> None:
    try:
        doc = parse_any(data)  # by content, as the store and a pull by digest do
    except ImageforgeError:
        doc = None
    if doc is not None:
        doc.to_bytes()
        descriptors = doc.manifests if isinstance(doc, IndexManifest) else doc.layers
        for d in descriptors:
            if d.platform is not None:
                d.platform.matches(_HOST)
                str(d.platform)
    try:
        manifest: Manifest | None = Manifest.parse(data)
    except ImageforgeError:
        manifest = None
    config = _config(data)
    if manifest is not None and config is not None:
        try:
            layers_with_diff_ids(manifest, config)
        except ImageforgeError:
            pass
    if len(data) <= 512:  # a digest, a reference or a platform, as a user or a file gives it
        _strings(data.decode("utf-8", "surrogateescape"))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
