"""A layer written straight into a blob store: the one way a new layer (a build step's, a
bootstrapped rootfs) becomes a blob.

The writer (:func:`write_layer`, :func:`write_layer_from_dir`, the Differ) streams the tar
into a fresh ingest and reports its digests; the ingest is committed only if the bytes it
received hash to that digest and size, so a failure anywhere leaves no blob, only an
ingest that is aborted here (or, after a crash, removed by ``prune``). The blob stays
unnamed until the caller names an image that uses it: hold the store's lock for writers
(``Store.writing``) until then.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from imageforge.layers._blob import BlobLayer
from imageforge.layers._compression import Writable
from imageforge.layers._model import LayerInfo
from imageforge.oci import Descriptor
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import BlobIngester, BlobReader

__all__ = ["LayerBlobs", "LayerWriter", "ingest_layer"]

LayerWriter = Callable[[Writable], LayerInfo]
"""Writes one layer into the writable it is given and returns its digests and sizes."""


class LayerBlobs(BlobIngester, BlobReader, Protocol):
    """A blob store that takes new blobs and gives them back (the local store's
    ``blobs``)."""


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


def ingest_layer(
    blobs: LayerBlobs,
    write: LayerWriter,
    *,
    ref_prefix: str = "layer",
    what: str | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> BlobLayer:
    """Run ``write`` into a new ingest (named ``<ref_prefix>-<random>``) and commit it
    (size and digest checked); the layer, readable from ``blobs``. With ``what``, the
    bytes written are reported to ``progress`` as a task "writing <what> layer"."""
    key = f"layer-{uuid.uuid4().hex}"
    if what is not None:
        progress.start(key, f"writing {what} layer", None, "bytes")
    try:
        # leaving the block without a commit discards what was written
        with blobs.begin(f"{ref_prefix}-{key}") as ingest:
            dst: Writable = ingest if what is None else _Counting(ingest, progress, key)
            info = write(dst)
            ingest.commit(info.size, info.digest)
    except BaseException:
        if what is not None:
            progress.done(key, failed=True)
        raise
    if what is not None:
        progress.done(key, f"{info.digest.short}, {info.size} bytes")
    return BlobLayer(Descriptor(info.media_type, info.digest, info.size), info.diff_id, blobs.open)
