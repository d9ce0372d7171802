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


MB10 = 10_000_000

BASE = "FROM debian (base layer)"
ADD_BIG = "ADD big.tar /tmp/"
RM_BIG = "RUN rm /tmp/big"
CONF2 = "COPY conf.v2 /etc/conf"
CONF3 = "COPY conf.v3 /etc/conf"
REPLACE = "RUN rm -rf /opt/app && mkdir /opt/app && touch /opt/app/c"


def known_waste_image() -> Image:
    """A 10 MB file added then deleted, a file overwritten twice, a directory replaced."""
    return build_image(
        (BASE, [("bin", D, 0), ("bin/sh", F, 1000), ("etc", D, 0), ("etc/conf", F, 100)]),
        (
            ADD_BIG,
            [
                ("tmp", D, 0),
                ("tmp/big", F, MB10),
                ("opt", D, 0),
                ("opt/app", D, 0),
                ("opt/app/a", F, 5000),
                ("opt/app/b", F, 7000),
            ],
        ),
        (RM_BIG, [("tmp", D, 0), ("tmp/.wh.big", F, 0)]),
        (CONF2, [("etc", D, 0), ("etc/conf", F, 200)]),
        (CONF3, [("etc", D, 0), ("etc/conf", F, 300)]),
        (
            REPLACE,
            [
                ("opt", D, 0),
                ("opt/app", D, 0),
                ("opt/app/.wh..wh..opq", F, 0),
                ("opt/app/c", F, 900),
            ],
        ),
    )
