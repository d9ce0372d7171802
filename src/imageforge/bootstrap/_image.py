"""What both base images share: the layer written straight into the store (verified on
commit), and a one-layer image over it with a config and a history entry."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from imageforge.layers import BlobLayer, LayerInfo
from imageforge.oci import Descriptor, History, Image, ImageConfig, host_platform
from imageforge.oci.mutate import Addendum, append_layers, empty_image, set_config
from imageforge.progress import ProgressSink
from imageforge.runtime import DEFAULT_PATH as _RUNTIME_PATH
from imageforge.store import Store

__all__ = ["DEFAULT_PATH", "single_layer_image", "store_layer"]

DEFAULT_PATH = f"PATH={_RUNTIME_PATH}"  # the Env entry


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _Counting:
    """Passes bytes on and reports them to the progress sink."""

    def __init__(self, dst: Writable, progress: ProgressSink, key: str) -> None:
        self._dst = dst
        self._progress = progress
        self._key = key

    def write(self, data: bytes, /) -> int:
        self._dst.write(data)
        self._progress.advance(self._key, len(data))
        return len(data)


def store_layer(
    store: Store,
    write: Callable[[Writable], LayerInfo],
    *,
    progress: ProgressSink,
    what: str,
) -> BlobLayer:
    """Run ``write`` into a fresh store ingest and commit it (size and digest checked);
    the blob stays unnamed until the caller names an image that uses it, so a failure
    here or later leaves nothing but what ``prune`` removes."""
    key = f"layer-{uuid.uuid4().hex}"
    progress.start(key, f"writing {what} layer", None, "bytes")
    try:
        with store.writing(), store.blobs.begin(f"bootstrap-{key}") as ingest:
            info = write(_Counting(ingest, progress, key))
            ingest.commit(info.size, info.digest)
    except BaseException:
        progress.done(key, failed=True)
        raise
    progress.done(key, f"{info.digest.short}, {info.size} bytes")
    desc = Descriptor(info.media_type, info.digest, info.size)
    return BlobLayer(desc, info.diff_id, store.blobs.open)


def single_layer_image(
    layer: BlobLayer,
    *,
    created: str,
    created_by: str,
    env: Sequence[str],
    cmd: Sequence[str],
) -> Image:
    """An OCI image of this host's platform holding ``layer``, with Env and Cmd set."""
    plat = host_platform()
    base = append_layers(
        empty_image(plat.os, plat.architecture),
        Addendum(layer, History(created=created, created_by=created_by)),
    )
    data = dict(base.config().data)
    if plat.variant:
        data["variant"] = plat.variant
    data["created"] = created
    data["config"] = {"Env": list(env), "Cmd": list(cmd)}
    return set_config(base, ImageConfig(data))
