"""``rootfs:DIR|TAR``: a one-layer image made from a directory tree or a tar file.

A tar is used as the layer as it is (gzip, zstd or plain); a directory becomes a gzip
layer written in one pass into a temporary file that is unlinked from the start. The
config gets this host's platform, the layer's diff_id and one history entry saying where
it came from.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import IO

from imageforge.errors import NotFound
from imageforge.layers import BlobLayer, open_layer, write_layer_from_dir
from imageforge.oci import (
    BaseImage,
    Descriptor,
    Digest,
    Layer,
    Manifest,
    canonical_json,
    digest_bytes,
    digest_file,
    host_platform,
    media,
)

__all__ = ["rootfs_image"]


def _created() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class RootfsImage(BaseImage):
    def __init__(self, blob: Path, media_type: str, diff_id: Digest, source: str) -> None:
        self._blob = blob
        with open(blob, "rb") as f:
            self._digest, self._size = digest_file(f)
        self._media_type = media_type
        self._diff_id = diff_id
        self._source = source

    def _open(self, digest: Digest) -> IO[bytes]:
        if digest != self._digest:
            raise NotFound(f"rootfs image has no blob {digest}")
        return open(self._blob, "rb")

    @cached_property
    def _raw_config(self) -> bytes:
        plat = host_platform()
        created = _created()
        config = {
            "architecture": plat.architecture,
            "os": plat.os,
            "created": created,
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
            },
            "rootfs": {"type": "layers", "diff_ids": [str(self._diff_id)]},
            "history": [{"created": created, "created_by": f"imageforge import {self._source}"}],
        }
        if plat.variant:
            config["variant"] = plat.variant
        return canonical_json(config)

    def raw_config(self) -> bytes:
        return self._raw_config

    @cached_property
    def _raw_manifest(self) -> bytes:
        raw_config = self.raw_config()
        return Manifest(
            Descriptor(media.OCI_CONFIG, digest_bytes(raw_config), len(raw_config)),
            (Descriptor(self._media_type, self._digest, self._size),),
        ).to_bytes()

    def raw_manifest(self) -> bytes:
        return self._raw_manifest

    def layers(self) -> Sequence[Layer]:
        desc = self.manifest().layers[0]
        return [BlobLayer(desc, self._diff_id, self._open)]


@contextmanager
def _spool(prefix: str) -> Iterator[tuple[IO[bytes], Path]]:
    """A temporary file unlinked from the start, and a path that opens it again
    (``/proc/self/fd/N``): a killed import leaves nothing behind for anyone to clean."""
    with tempfile.TemporaryFile(prefix=prefix) as f:
        yield f, Path(f"/proc/self/fd/{f.fileno()}")


@contextmanager
def rootfs_image(path: Path) -> Iterator[RootfsImage]:
    if path.is_dir():
        with _spool("imageforge-rootfs-") as (out, blob):
            info = write_layer_from_dir(path, out, compression="gzip")
            out.flush()
            yield RootfsImage(blob, info.media_type, info.diff_id, f"rootfs:{path}")
        return
    if path.exists() and not path.is_file():
        # A pipe or device can be read once only: spool it, then read the copy.
        with _spool("imageforge-rootfs-") as (out, spool), open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            with rootfs_image(spool) as image:
                yield image
        return
    if not path.is_file():
        raise NotFound(f"rootfs {path} is neither a directory nor a tar file")
    with open_layer(path, name=str(path)) as reader:
        info = reader.finish()
    yield RootfsImage(path, info.media_type, info.diff_id, f"rootfs:{path}")
