"""The build cache: a step's key -> the layer it made (or none), one small JSON file per
key under the store's ``build-cache/``, written atomically. A hit is used only while the
layer's blob is still in the store (``prune`` may have taken it).

Each record is fsynced before it is renamed into place, but the directory only once
per build (:meth:`BuildCache.sync`, when the build ends), not per record: a crash before
that may lose the renames of the build's records, so the next build finds a record
missing (a miss) or the one it replaced, never a half-written one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imageforge.oci import Descriptor, Digest
from imageforge.store import Store, atomic_write, fsync_dir

__all__ = ["BuildCache", "CachedStep"]


@dataclass(frozen=True)
class CachedStep:
    layer: Descriptor | None
    diff_id: Digest | None


class BuildCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._dir = store.layout.build_cache
        self._unsynced = False  # records renamed into place since the last sync

    def _write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data, sync_dir=False)
        self._unsynced = True

    def sync(self) -> None:
        """Make the records written since the last call durable: one fsync of the
        directory for all their renames."""
        if self._unsynced:
            self._unsynced = False
            fsync_dir(self._dir)

    def _path(self, key: str) -> Path:
        return self._dir / f"{key}.json"

    def get(self, key: str) -> CachedStep | None:
        try:
            data = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        layer = data.get("layer")
        if layer is None:
            return CachedStep(None, None)
        try:
            desc = Descriptor(layer["mediaType"], Digest(layer["digest"]), int(layer["size"]))
            diff_id = Digest(layer["diffID"])
        except (KeyError, ValueError, TypeError):
            return None
        if not self._store.blobs.exists(desc.digest):
            return None
        return CachedStep(desc, diff_id)

    def put(self, key: str, layer: Descriptor | None, diff_id: Digest | None) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        data: dict[str, object] = {"layer": None}
        if layer is not None and diff_id is not None:
            data["layer"] = {
                "mediaType": layer.media_type,
                "digest": str(layer.digest),
                "size": layer.size,
                "diffID": str(diff_id),
            }
        self._write(self._path(key), json.dumps(data).encode())

    def get_image(self, key: str) -> Digest | None:
        """The manifest of an image a build with this final key made, if every blob it
        needs is still in the store."""
        try:
            data = json.loads(self._path("image-" + key).read_text())
            digest = Digest(data["manifest"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            for blob in [digest, *self._store.children(digest)]:
                if not self._store.blobs.exists(blob):
                    return None
        except (OSError, ValueError):
            return None
        return digest

    def put_image(self, key: str, manifest: Digest) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._write(self._path("image-" + key), json.dumps({"manifest": str(manifest)}).encode())

    def remember_inputs(self, position: str, record: dict[str, object]) -> None:
        """What a step at this place of this Dockerfile saw, to explain the next miss."""
        self._dir.mkdir(parents=True, exist_ok=True)
        self._write(self._path("inputs-" + position), json.dumps(record).encode())

    def why(self, position: str, record: dict[str, object]) -> str:
        """Why the step at ``position`` missed: what differs from the last build's."""
        try:
            last = json.loads(self._path("inputs-" + position).read_text())
        except (OSError, ValueError):
            return "no earlier build of this step"
        if last.get("instruction") != record["instruction"]:
            return f"the instruction changed (was: {last.get('instruction')})"
        before: dict[str, str] = dict(last.get("inputs") or {})
        now = record["inputs"]
        assert isinstance(now, dict)
        changed = sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
        if changed:
            shown = ", ".join(changed[:5]) + (
                f" (+{len(changed) - 5} more)" if len(changed) > 5 else ""
            )
            return f"changed: {shown}"
        if last.get("parent") != record["parent"]:
            return "an earlier step changed"
        return "its result is no longer in the store (pruned)"
