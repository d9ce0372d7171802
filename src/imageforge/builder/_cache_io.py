"""Build cache export and import for CI runners that start empty
(``--cache-to oci:DIR`` / ``--cache-from oci:DIR``).

The cache travels as an OCI image layout: one manifest whose ``artifactType`` is
:data:`CACHE_ARTIFACT`, whose config is the cache records (step key -> layer) and whose
layers are the layer blobs those records name plus one layer per ``RUN
--mount=type=cache`` directory, so any OCI tool can copy it around.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from imageforge.builder._cache import BuildCache
from imageforge.errors import InvalidArgument, NotFound
from imageforge.layers import extract_layer, write_layer_from_dir
from imageforge.oci import Descriptor, Digest, canonical_json, digest_bytes, media
from imageforge.store import Store, atomic_write

__all__ = ["CACHE_ARTIFACT", "CacheRecord", "export_cache", "import_cache"]

CACHE_ARTIFACT = "application/vnd.imageforge.builder-cache.v1+json"
CacheRecord = tuple[Descriptor | None, Digest | None]


def _blob_path(root: Path, digest: Digest) -> Path:
    return root / "blobs" / digest.algorithm / digest.hex


def _put(root: Path, data: bytes) -> Descriptor:
    digest = digest_bytes(data)
    path = _blob_path(root, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    return Descriptor(CACHE_ARTIFACT, digest, len(data))


def export_cache(store: Store, records: Mapping[str, CacheRecord], directory: Path) -> int:
    """Write ``records`` and their layers as an OCI layout in ``directory``; returns the
    number of layers written."""
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    steps: dict[str, object] = {}
    layers: list[Descriptor] = []
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
        target = _blob_path(directory, desc.digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            with store.blobs.open(desc.digest) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            tmp.rename(target)
        if desc.digest not in {d.digest for d in layers}:
            layers.append(Descriptor(desc.media_type, desc.digest, desc.size))
    mounts: dict[str, str] = {}
    cache_mounts = store.layout.cache_mounts
    if cache_mounts.is_dir():  # RUN --mount=type=cache contents travel too
        for mount in sorted(cache_mounts.iterdir()):
            tmp = directory / "blobs" / f".mount-{mount.name}.tmp"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                info = write_layer_from_dir(mount, out, mtime_clamp=None)
            target = _blob_path(directory, info.digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(target)
            mounts[mount.name] = str(info.digest)
            layers.append(Descriptor(info.media_type, info.digest, info.size))
    config = _put(directory, canonical_json({"steps": steps, "cacheMounts": mounts}))
    manifest = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "artifactType": CACHE_ARTIFACT,
        "config": {"mediaType": CACHE_ARTIFACT, "digest": str(config.digest), "size": config.size},
        "layers": [
            {"mediaType": d.media_type, "digest": str(d.digest), "size": d.size} for d in layers
        ],
    }
    raw = canonical_json(manifest)
    mdesc = _put(directory, raw)
    index = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [
            {
                "mediaType": media.OCI_MANIFEST,
                "digest": str(mdesc.digest),
                "size": mdesc.size,
                "artifactType": CACHE_ARTIFACT,
                "annotations": {"org.opencontainers.image.ref.name": "build-cache"},
            }
        ],
    }
    atomic_write(directory / "index.json", canonical_json(index))
    return len(layers)


def import_cache(store: Store, cache: BuildCache, directory: Path) -> int:
    """Copy the cache in the layout at ``directory`` into the store (layers verified by
    the store's ingest); returns the number of step records imported."""
    try:
        index = json.loads((directory / "index.json").read_text())
    except (OSError, ValueError) as exc:
        raise NotFound(f"--cache-from {directory}: no readable index.json ({exc})") from None
    entry = next(
        (m for m in index.get("manifests", []) if m.get("artifactType") == CACHE_ARTIFACT), None
    )
    if entry is None:
        raise InvalidArgument(f"--cache-from {directory}: no imageforge build cache in it")
    manifest = json.loads(_blob_path(directory, Digest(entry["digest"])).read_bytes())
    config = json.loads(_blob_path(directory, Digest(manifest["config"]["digest"])).read_bytes())
    count = 0
    for key, layer in (config.get("steps") or {}).items():
        if layer is None:
            cache.put(key, None, None)
            count += 1
            continue
        desc = Descriptor(layer["mediaType"], Digest(layer["digest"]), int(layer["size"]))
        if not store.blobs.exists(desc.digest):
            with (
                open(_blob_path(directory, desc.digest), "rb") as src,
                store.blobs.begin(f"cache-{desc.digest}") as ingest,
            ):
                while chunk := src.read(1 << 20):
                    ingest.write(chunk)
                ingest.commit(desc.size, desc.digest)
        cache.put(key, desc, Digest(layer["diffID"]))
        count += 1
    for name, digest in (config.get("cacheMounts") or {}).items():
        target = store.layout.cache_mounts / Path(name).name
        if target.exists():
            continue  # this runner's own cache wins
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        extract_layer(_blob_path(directory, Digest(digest)), tmp, expected=Digest(digest))
        tmp.rename(target)
    return count
