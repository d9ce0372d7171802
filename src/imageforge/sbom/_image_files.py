""":class:`Files` over an OCI image, read without unpacking it: the catalogers' side of
:class:`imageforge.layers.FsView`.

The view's index pass (headers only) gives the merged filesystem and the layer each
visible path comes from; :meth:`ImageFiles.load` reads the content of every requested
path, symlinks resolved inside the image, in ONE pass per layer that holds any of them
(small files in memory, larger ones spooled to a private temporary directory).

A layer that cannot be read (corrupt compression, a truncated tar, a digest that does
not match) is reported once through ``warn`` naming the layer by number and digest, and
the view is built from the other layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from imageforge.errors import ImageforgeError
from imageforge.layers import IN_MEMORY_LIMIT, EntryType, FsView, LayerDiff, layer_name
from imageforge.oci import Image
from imageforge.progress import ProgressSink
from imageforge.sbom._files import FileInfo, Warn
from imageforge.sbom._model import Evidence

__all__ = ["IN_MEMORY_LIMIT", "ImageFiles"]


class ImageFiles:
    """The merged filesystem of ``image`` as :class:`~imageforge.sbom.Files`.

    ``info``/``paths`` work for every path after construction (which runs the index
    pass); ``read``/``open`` follow symlinks inside the image and serve what
    :meth:`load` read (a path not loaded yet is loaded on demand, one layer pass for
    that file alone). Use as a context manager, or call :meth:`close`, to remove
    spooled files. ``view`` is the underlying :class:`~imageforge.layers.FsView`;
    ``on_layer`` is shown each layer's :class:`~imageforge.layers.LayerDiff` as the
    index pass reads it (what a scan needs to know which layer wrote a package
    database, at no extra read)."""

    def __init__(
        self,
        image: Image,
        *,
        warn: Warn | None = None,
        progress: ProgressSink | None = None,
        memory_limit: int = IN_MEMORY_LIMIT,
        on_layer: Callable[[LayerDiff], None] | None = None,
    ) -> None:
        self._warn = warn or (lambda path, message: None)
        self.view = FsView(
            image,
            on_bad_layer=self._layer_failed,
            progress=progress,
            progress_key="sbom",
            memory_limit=memory_limit,
        )
        if on_layer is not None:  # the index pass, each layer's changes shown on the way
            for diff in self.view.layer_diffs():
                on_layer(diff)
        self._nodes = self.view.nodes
        self._digests = [str(layer.digest) for layer in self.view.layers]

    def _layer_failed(self, index: int, exc: ImageforgeError) -> None:
        name = layer_name(self.view.layers[index], index)
        message = exc.message.removeprefix(f"layer {name}: ")
        self._warn(f"layer {name}", f"layer skipped: {message}")

    # -- Files -------------------------------------------------------------------
    def paths(self) -> Iterator[str]:
        return self.view.paths()

    def info(self, path: str) -> FileInfo | None:
        node = self._nodes.get(path)
        if node is None:
            if self.view.implied(path):
                return FileInfo(path, "dir", 0o755, 0)
            return None
        size = node.size
        if node.type is EntryType.HARDLINK:
            target = self._nodes.get(node.linkname)
            size = target.size if target is not None else 0
        linkname = node.linkname if node.type is EntryType.SYMLINK else ""
        return FileInfo(path, node.kind, node.mode, size, linkname, self._digests[node.layer])

    def evidence(self, path: str) -> Evidence:
        node = self._nodes.get(path)
        return Evidence(path, None if node is None else self._digests[node.layer])

    def read(self, path: str) -> bytes:
        return self.view.read(path)

    def open(self, path: str) -> BinaryIO:
        return self.view.open(path)

    def load(self, paths: Iterable[str]) -> None:
        """Read the content of ``paths`` (symlinks followed inside the image; paths that
        are not regular files are ignored) in one pass per layer holding any."""
        self.view.load(paths)

    def close(self) -> None:
        """Drop loaded content and remove spooled files."""
        self.view.close()

    def __enter__(self) -> ImageFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
