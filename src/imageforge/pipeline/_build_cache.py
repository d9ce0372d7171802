"""Build cache export and import for CI runners that start empty (``build --cache-to
oci:DIR|docker://REF`` / ``--cache-from ...``), as an OCI layout written and read
through the transports, or as one artifact pushed to a registry (pods of one CI share
it there, as BuildKit's ``type=registry`` cache).

The layout holds one manifest tagged ``build-cache`` whose ``artifactType`` (and its
index entry's) is :data:`CACHE_ARTIFACT`: its config is the step records (step key ->
the layer it made, or none) and its layers are the layer blobs those records name plus
one layer per ``RUN --mount=type=cache`` directory, so any OCI tool can copy it around.
In a registry the same manifest is pushed under the reference's tag. A cache read back
is untrusted input: the layout reader refuses blobs that are not regular files inside
the layout, every blob is checked against its digest and none is read past its
descriptor's size; step keys and mount names must be what a build writes, so none
names a path outside the store. A registry cache that is not there yet (the first run)
is not an error: the build goes on without it, as BuildKit's.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from imageforge.builder import BuildCache, CacheRecord
from imageforge.errors import InvalidArgument, NotFound
from imageforge.layers import BlobLayer, extract_layer, read_verified, write_layer_from_dir
from imageforge.oci import (
    BaseImage,
    Descriptor,
    Digest,
    Layer,
    Manifest,
    Reference,
    canonical_json,
    digest_bytes,
    load_json,
    media,
)
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import Store
from imageforge.transports import LayoutReader, StoreBlobSink, TransportRef, write_image

if TYPE_CHECKING:
    from imageforge.remote import Client

__all__ = [
    "CACHE_ARTIFACT",
    "CACHE_TAG",
    "CacheLocation",
    "export_build_cache",
    "import_build_cache",
    "parse_cache_location",
]

# Where a build cache is kept: an OCI layout's directory or a registry reference.
CacheLocation = Path | Reference

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


def parse_cache_location(value: str, option: str) -> CacheLocation:
    """``oci:DIR`` or ``docker://REF`` (a tag or ``build-cache`` when none) as given to
    ``--cache-to``/``--cache-from``."""
    if value.startswith("oci:") and len(value) > 4:
        return Path(value[4:])
    if value.startswith("docker://") and len(value) > 9:
        ref = Reference.parse(value[9:])
        if ref.digest is not None:
            raise InvalidArgument(
                f"{option} {value!r}: a cache is written and read by tag, not by digest"
            )
        return ref if ref.tag is not None else Reference.parse(f"{value[9:]}:{CACHE_TAG}")
    raise InvalidArgument(f"{option} {value!r}: expected oci:DIR or docker://REGISTRY/REPO[:TAG]")


def export_build_cache(
    store: Store,
    records: Mapping[str, CacheRecord],
    destination: CacheLocation,
    *,
    client: Client | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> int:
    """Write ``records``, their layers and the store's cache mounts as an OCI layout in
    the directory ``destination`` (the ``build-cache`` entry of its index is replaced,
    others kept) or push them to the registry reference ``destination`` with ``client``;
    returns the number of layers it holds."""
    if isinstance(destination, Reference):
        directory = store.layout.ingest
    else:
        directory = destination
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
        if isinstance(destination, Reference):
            from imageforge.remote import push

            if client is None:
                raise InvalidArgument(f"--cache-to docker://{destination}: no registry client")
            push(client, artifact, destination, progress=progress)
        else:
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


def import_build_cache(
    store: Store, source: CacheLocation, *, client: Client | None = None
) -> int | None:
    """Copy the cache in the layout at directory ``source`` (or pushed to the registry
    reference ``source``, read with ``client``) into ``store``: its layer blobs (bounded
    by their sizes and verified before they appear), its step records, and the cache
    mounts this store does not have yet (its own win). Returns the number of step
    records imported; None when a registry has no cache under that tag yet."""
    if isinstance(source, Reference):
        where = f"build cache docker://{source}"
        if client is None:
            raise InvalidArgument(f"{where}: no registry client")
        from imageforge.remote import registry_host

        host = registry_host(source.domain)
        try:
            raw, _, _ = client.get_manifest(host, source.path, source.tag or CACHE_TAG)
        except NotFound:
            return None
        return _import(store, raw, client.blob_opener(host, source.path), where)
    where = f"build cache {source}"
    layout = LayoutReader(source)
    entry = next((d for d in layout.index.manifests if d.artifact_type == CACHE_ARTIFACT), None)
    if entry is None:
        raise InvalidArgument(
            f"{where}: no imageforge build cache in it",
            hint="build --cache-to oci:DIR writes one",
        )
    raw = read_verified(layout.open, entry, f"{where}: manifest")
    return _import(store, raw, layout.open, where)


def _import(store: Store, raw: bytes, opener: Callable[[Digest], IO[bytes]], where: str) -> int:
    manifest = Manifest.parse(raw, what=f"{where}: manifest")
    if manifest.artifact_type != CACHE_ARTIFACT:
        raise InvalidArgument(f"{where}: the manifest is not a build cache", hint=_HOSTILE)
    config = load_json(read_verified(opener, manifest.config, f"{where}: records"), where)
    steps, mounts = _records(config, where)
    listed = {d.digest: d for d in manifest.layers}
    cache = BuildCache(store)
    sink = StoreBlobSink(store)
    with store.writing():
        for key, (desc, diff_id) in steps.items():
            if desc is not None and not store.blobs.exists(desc.digest):
                with opener(desc.digest) as src:
                    sink.put(desc.digest, desc.size, src)
            cache.put(key, desc, diff_id)
        cache.sync()
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
                with opener(digest) as src:
                    extract_layer(
                        src,
                        tmp,
                        expected=digest,
                        size=desc.size,
                        media_type=desc.media_type,
                        name=f"cache mount {name}",
                        fresh=True,  # renamed into place only once complete
                    )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            tmp.rename(target)
    return len(steps)
