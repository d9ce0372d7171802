"""Images assembled in memory, layer by layer, each with the history entry that made it."""

from __future__ import annotations

import io

from imageforge.layers import Compression, Entry, EntryType, write_layer
from imageforge.oci import Descriptor, Digest, History, Image
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.transports import BlobLayer

F, D, L, H = EntryType.FILE, EntryType.DIR, EntryType.SYMLINK, EntryType.HARDLINK

# (path, type, size or link target); a FILE's content is `size` bytes of "x".
Spec = list[tuple[str, EntryType, int | str]]


def build_image(
    *layers: tuple[str, Spec],
    blobs: dict[Digest, bytes] | None = None,
    compression: Compression = "gzip",
) -> Image:
    """An image of ``layers``: (created_by, entries) each."""
    store: dict[Digest, bytes] = {} if blobs is None else blobs
    image: Image = empty_image()
    for created_by, spec in layers:
        entries: list[tuple[Entry, bytes | None]] = []
        for path, kind, arg in spec:
            if kind is F:
                size = int(arg)
                entries.append((Entry(path, kind, size=size), b"x" * size))
            elif kind in (L, H):
                entries.append((Entry(path, kind, linkname=str(arg)), None))
            else:
                entries.append((Entry(path, kind, mode=0o755), None))
        out = io.BytesIO()
        info = write_layer(entries, out, compression=compression, mtime_clamp=0)
        store[info.digest] = out.getvalue()
        layer = BlobLayer(
            Descriptor(info.media_type, info.digest, info.size),
            info.diff_id,
            lambda d: io.BytesIO(store[d]),
        )
        image = append_layers(image, Addendum(layer, History(created_by=created_by)))
    return image
