"""Build cache export and import for CI runners that start empty (``build --cache-to
oci:DIR`` / ``--cache-from oci:DIR``), as an OCI layout written and read through the
transports.

The layout holds one manifest tagged ``build-cache`` whose ``artifactType`` (and its
index entry's) is :data:`CACHE_ARTIFACT`: its config is the step records (step key ->
the layer it made, or none) and its layers are the layer blobs those records name plus
one layer per ``RUN --mount=type=cache`` directory, so any OCI tool can copy it around.
A cache read back is untrusted input: the layout reader refuses blobs that are not
regular files inside the layout and the store's sink reads none past its descriptor's
size; step keys and mount names must be what a build writes, so none names a path
outside the store.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from imageforge.builder import BuildCache, CacheRecord
from imageforge.errors import InvalidArgument
from imageforge.layers import BlobLayer, extract_layer, read_verified, write_layer_from_dir
from imageforge.oci import (
    BaseImage,
    Descriptor,
    Digest,
    Layer,
    Manifest,
    canonical_json,
    digest_bytes,
    load_json,
    media,
)
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import Store
from imageforge.transports import LayoutReader, StoreBlobSink, TransportRef, write_image

__all__ = ["CACHE_ARTIFACT", "CACHE_TAG", "export_build_cache", "import_build_cache"]

CACHE_ARTIFACT = "application/vnd.imageforge.builder-cache.v1+json"
CACHE_TAG = "build-cache"
_STEP_KEY = re.compile(r"[0-9a-f]{64}")  # builder.step_key: a sha256 hex digest
_MOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # one plain path component
_HOSTILE = "the cache is malformed or hostile; write it again with build --cache-to"


class _CacheArtifact(BaseImage):
    """The cache as something the transports write: a manifest, its config (the step
    records) and its layers."""

    validate_schema = False  # made here, not read from anywhere

    def __init__(self, raw_manifest: bytes, raw_config: bytes, layers: Sequence[Layer]) -> None:
        self._raw = raw_manifest
        self._raw_cfg = raw_config
        self._layers = layers

    def raw_manifest(self) -> bytes:
        return self._raw

    def raw_config(self) -> bytes:
        return self._raw_cfg

    def layers(self) -> Sequence[Layer]:
        return self._layers


def export_build_cache(
    store: Store,
    records: Mapping[str, CacheRecord],
    directory: Path,
    *,
    progress: ProgressSink = NULL_PROGRESS,
) -> int:
    """Write ``records``, their layers and the store's cache mounts as an OCI layout in
    ``directory`` (the ``build-cache`` entry of its index is replaced, others kept);
    returns the number of layers it holds."""
    steps: dict[str, object] = {}
    layers: dict[Digest, Layer] = {}
    for key, (desc, diff_id) in sorted(records.items()):
        if desc is None or diff_id is None:
            steps[key] = None
            continue
        steps[key] = {
            "digest": str(desc.digest),
            "size": desc.size,
            "mediaType": desc.media_type,
            "diffID": str(diff_id),
        }
        plain = Descriptor(desc.media_type, desc.digest, desc.size)
        layers.setdefault(desc.digest, BlobLayer(plain, diff_id, store.blobs.open))
    directory.mkdir(parents=True, exist_ok=True)
    mounts: dict[str, str] = {}
    files: dict[Digest, Path] = {}  # cache mount layers, written once before the copy

    def opener(digest: Digest) -> IO[bytes]:
        return open(files[digest], "rb") if digest in files else store.blobs.open(digest)

    with tempfile.TemporaryDirectory(prefix=".imageforge-cache-", dir=directory) as tmp:
        cache_mounts = store.layout.cache_mounts
        if cache_mounts.is_dir():
            for mount in sorted(cache_mounts.iterdir()):
                path = Path(tmp) / mount.name
                with open(path, "wb") as out:
                    info = write_layer_from_dir(mount, out, mtime_clamp=None)
                files[info.digest] = path
                mounts[mount.name] = str(info.digest)
                desc = Descriptor(info.media_type, info.digest, info.size)
                layers.setdefault(info.digest, BlobLayer(desc, info.diff_id, opener))
        config = canonical_json({"steps": steps, "cacheMounts": mounts})
        manifest = {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "artifactType": CACHE_ARTIFACT,
            "config": {
                "mediaType": CACHE_ARTIFACT,
                "digest": str(digest_bytes(config)),
                "size": len(config),
            },
            "layers": [
                {"mediaType": layer.media_type, "digest": str(layer.digest), "size": layer.size}
                for layer in layers.values()
            ],
        }
        artifact = _CacheArtifact(canonical_json(manifest), config, list(layers.values()))
        write_image(artifact, TransportRef("oci", str(directory), CACHE_TAG), progress=progress)
    return len(layers)


def _records(config: Any, where: str) -> tuple[dict[str, CacheRecord], dict[str, Digest]]:
    """The step records and cache mounts of a cache's config, each checked."""
    if not isinstance(config, dict):
        raise InvalidArgument(f"{where}: the step records are not a JSON object", hint=_HOSTILE)
    steps_in, mounts_in = config.get("steps") or {}, config.get("cacheMounts") or {}
    if not isinstance(steps_in, dict) or not isinstance(mounts_in, dict):
        raise InvalidArgument(f"{where}: steps and cacheMounts must be objects", hint=_HOSTILE)
    steps: dict[str, CacheRecord] = {}
    for key, layer in steps_in.items():
        if not _STEP_KEY.fullmatch(key):
            raise InvalidArgument(
                f"{where}: step key {key!r} is not a step key (64 hex digits)", hint=_HOSTILE
            )
        if layer is None:
            steps[key] = (None, None)
            continue
        try:
            size = layer["size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ValueError(f"size {size!r}")
            desc = Descriptor(str(layer["mediaType"]), Digest(layer["digest"]), size)
            steps[key] = (desc, Digest(layer["diffID"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(
                f"{where}: step {key}: not a layer record ({exc})", hint=_HOSTILE
            ) from None
    mounts: dict[str, Digest] = {}
    for name, digest in mounts_in.items():
        if not _MOUNT_NAME.fullmatch(name):
            raise InvalidArgument(
                f"{where}: cache mount name {name!r} is not a plain file name", hint=_HOSTILE
            )
        mounts[name] = Digest(str(digest))
    return steps, mounts


def import_build_cache(store: Store, directory: Path) -> int:
    """Copy the cache in the layout at ``directory`` into ``store``: its layer blobs
    (bounded by their sizes and verified before they appear), its step records, and
    the cache mounts this store does not have yet (its own win). Returns the number of
    step records imported."""
    where = f"build cache {directory}"
    layout = LayoutReader(directory)
    entry = next((d for d in layout.index.manifests if d.artifact_type == CACHE_ARTIFACT), None)
    if entry is None:
        raise InvalidArgument(
            f"{where}: no imageforge build cache in it",
            hint="build --cache-to oci:DIR writes one",
        )
    raw = read_verified(layout.open, entry, f"{where}: manifest")
    manifest = Manifest.parse(raw, what=f"{where}: manifest")
    if manifest.artifact_type != CACHE_ARTIFACT:
        raise InvalidArgument(f"{where}: the manifest is not a build cache", hint=_HOSTILE)
    config = load_json(read_verified(layout.open, manifest.config, f"{where}: records"), where)
    steps, mounts = _records(config, where)
    listed = {d.digest: d for d in manifest.layers}
    cache = BuildCache(store)
    sink = StoreBlobSink(store)
    with store.writing():
        for key, (desc, diff_id) in steps.items():
            if desc is not None and not store.blobs.exists(desc.digest):
                with layout.open(desc.digest) as src:
                    sink.put(desc.digest, desc.size, src)
            cache.put(key, desc, diff_id)
        for name, digest in mounts.items():
            target = store.layout.cache_mounts / name
            if target.exists():
                continue  # this runner's own cache wins
            desc = listed.get(digest)
            if desc is None:
                raise InvalidArgument(
                    f"{where}: cache mount {name}'s layer {digest} is not in the manifest",
                    hint=_HOSTILE,
                )
            tmp = target.with_name(f".{name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                with layout.open(digest) as src:
                    extract_layer(
                        src,
                        tmp,
                        expected=digest,
                        size=desc.size,
                        media_type=desc.media_type,
                        name=f"cache mount {name}",
                    )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            tmp.rename(target)
    return len(steps)
