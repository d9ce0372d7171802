""":class:`Files` over an OCI image, read without unpacking it.

One metadata pass over every layer (headers only, through :mod:`imageforge.layers`)
gives the merged filesystem and the layer each visible path comes from. Content is read
afterwards by :meth:`ImageFiles.load`: every requested path, symlinks resolved inside
the image, in ONE pass per layer that holds any of them. Small files are kept in
memory, larger ones spooled to a private temporary directory, so memory stays bounded
whatever the catalogers ask for.

A layer that cannot be read (corrupt compression, a truncated tar, a digest that does
not match) is reported once through ``warn`` naming the layer by number and digest, and
the view is built from the other layers.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from imageforge.errors import DigestMismatch, ImageforgeError, NotFound
from imageforge.layers import (
    EntryType,
    FsNode,
    Merger,
    layer_entries,
    layer_name,
    read_layer,
    resolve_in_view,
)
from imageforge.oci import Image, Layer
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.sbom._files import FileInfo, Warn
from imageforge.sbom._model import Evidence

__all__ = ["IN_MEMORY_LIMIT", "ImageFiles"]

IN_MEMORY_LIMIT = 1 << 20
"""Files up to this size are kept in memory by :meth:`ImageFiles.load`; larger ones
go to a temporary file."""

_KINDS = {
    EntryType.FILE: "file",
    EntryType.HARDLINK: "file",
    EntryType.DIR: "dir",
    EntryType.SYMLINK: "symlink",
}


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


class ImageFiles:
    """The merged filesystem of ``image`` as :class:`~imageforge.sbom.Files`.

    ``info``/``paths`` work for every path after construction; ``read``/``open`` follow
    symlinks inside the image and serve what :meth:`load` read (a path not loaded yet
    is loaded on demand, one layer pass for that file alone). Use as a context manager,
    or call :meth:`close`, to remove spooled files."""

    def __init__(
        self,
        image: Image,
        *,
        warn: Warn | None = None,
        progress: ProgressSink | None = None,
        memory_limit: int = IN_MEMORY_LIMIT,
    ) -> None:
        self._warn = warn or (lambda path, message: None)
        self._progress = progress or NULL_PROGRESS
        self._memory_limit = memory_limit
        self._layers: Sequence[Layer] = image.layers()
        self._bad: set[int] = set()
        self._memory: dict[str, bytes] = {}
        self._spooled: dict[str, Path] = {}
        self._tmp: Path | None = None
        merger = Merger()
        self._progress.start("sbom-index", "indexing layers", len(self._layers), "layers")
        for index, layer in enumerate(self._layers):
            try:
                entries, info = layer_entries(layer, index)
                if info.diff_id != layer.diff_id:
                    raise DigestMismatch(
                        f"its tar is {info.diff_id}, but the image config says {layer.diff_id}"
                    )
            except ImageforgeError as exc:
                self._layer_failed(index, exc)
                continue
            finally:
                self._progress.advance("sbom-index")
            merger.apply(index, entries)
        self._progress.done("sbom-index")
        self._nodes: dict[str, FsNode] = merger.nodes
        self._implied: set[str] = set()
        for path in self._nodes:
            parent = _parent(path)
            while parent and parent not in self._implied:
                self._implied.add(parent)
                parent = _parent(parent)

    def _layer_failed(self, index: int, exc: ImageforgeError) -> None:
        if index in self._bad:
            return
        self._bad.add(index)
        name = layer_name(self._layers[index], index)
        message = exc.message.removeprefix(f"layer {name}: ")
        self._warn(f"layer {name}", f"layer skipped: {message}")

    # -- Files -------------------------------------------------------------------
    def paths(self) -> Iterator[str]:
        yield from self._nodes
        yield from (p for p in self._implied if p not in self._nodes)

    def info(self, path: str) -> FileInfo | None:
        node = self._nodes.get(path)
        if node is None:
            if path in self._implied:
                return FileInfo(path, "dir", 0o755, 0)
            return None
        size = node.size
        if node.type is EntryType.HARDLINK:
            target = self._nodes.get(node.linkname)
            size = target.size if target is not None else 0
        kind = _KINDS.get(node.type, "other")
        linkname = node.linkname if node.type is EntryType.SYMLINK else ""
        return FileInfo(path, kind, node.mode, size, linkname, str(self._layers[node.layer].digest))

    def evidence(self, path: str) -> Evidence:
        node = self._nodes.get(path)
        return Evidence(path, None if node is None else str(self._layers[node.layer].digest))

    def read(self, path: str) -> bytes:
        self._need(path)
        if path in self._memory:
            return self._memory[path]
        return self._spooled[path].read_bytes()

    def open(self, path: str) -> BinaryIO:
        self._need(path)
        if path in self._memory:
            return io.BytesIO(self._memory[path])
        return self._spooled[path].open("rb")

    # -- loading -----------------------------------------------------------------
    def _need(self, path: str) -> None:
        if path in self._memory or path in self._spooled:
            return
        real = resolve_in_view(self.info, path)
        info = None if real is None else self.info(real)
        if info is None or info.kind != "file":
            raise NotFound(f"{path!r} is not a regular file of the image")
        self.load([path])
        if path not in self._memory and path not in self._spooled:
            raise NotFound(f"{path!r} could not be read from its layer")

    def load(self, paths: Iterable[str]) -> None:
        """Read the content of ``paths`` (symlinks followed inside the image; paths that
        are not regular files are ignored) in one pass per layer holding any."""
        # layer -> {member path in that layer: [view paths served by it]}
        wanted: dict[int, dict[str, list[str]]] = {}
        for path in paths:
            real = resolve_in_view(self.info, path)
            if real is None:
                continue
            node = self._nodes.get(real)
            if node is None or node.type not in (EntryType.FILE, EntryType.HARDLINK):
                continue
            if real in self._memory or real in self._spooled:
                self._alias(path, real)
                continue
            member = node.linkname if node.type is EntryType.HARDLINK else real
            served = wanted.setdefault(node.layer, {}).setdefault(member, [])
            served.extend(dict.fromkeys([real, path]))
        if not wanted:
            return
        self._progress.start("sbom-read", "reading files", len(wanted), "layers")
        for index in sorted(wanted):
            self._read_layer(index, wanted[index])
            self._progress.advance("sbom-read")
        self._progress.done("sbom-read")

    def _alias(self, path: str, real: str) -> None:
        if path == real:
            return
        if real in self._memory:
            self._memory[path] = self._memory[real]
        else:
            self._spooled[path] = self._spooled[real]

    def _read_layer(self, index: int, members: dict[str, list[str]]) -> None:
        layer = self._layers[index]
        try:
            with read_layer(layer, index) as reader:
                for entry in reader:
                    targets = members.get(entry.path)
                    if targets is None or entry.type is not EntryType.FILE:
                        continue
                    # The last entry for a path wins, as when the layer is applied.
                    if entry.size <= self._memory_limit:
                        # read() returns what the decompressor has: loop to the end
                        data = b"".join(iter(lambda: reader.read(1 << 20), b""))
                        for t in targets:
                            self._spooled.pop(t, None)
                            self._memory[t] = data
                    else:
                        spool = self._spool_path()
                        with spool.open("wb") as out:
                            while chunk := reader.read(1 << 20):
                                out.write(chunk)
                        for t in targets:
                            self._memory.pop(t, None)
                            self._spooled[t] = spool
                reader.finish()
        except ImageforgeError as exc:
            self._layer_failed(index, exc)
            for targets in members.values():  # never serve content of a damaged layer
                for t in targets:
                    self._memory.pop(t, None)
                    self._spooled.pop(t, None)

    def _spool_path(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="imageforge-sbom-"))
        fd, name = tempfile.mkstemp(dir=self._tmp)
        os.close(fd)
        return Path(name)

    def close(self) -> None:
        """Drop loaded content and remove spooled files."""
        self._memory.clear()
        self._spooled.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> ImageFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
