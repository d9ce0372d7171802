"""The merged filesystem of an image, from one streaming pass over its layers.

:func:`flatten` reads every layer once (headers only; content is skipped, never
unpacked to disk), applies OCI whiteouts and returns an :class:`FsView`: path ->
:class:`FsNode` with the type, mode, owner, size, link target and the index of the
layer each surviving path came from. Content is opened lazily with
:meth:`FsView.read`, which re-reads only the layer of origin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from imageforge.errors import NotFound
from imageforge.layers._model import EntryType
from imageforge.layers._read import LayerReader, open_layer
from imageforge.layers._whiteout import WhiteoutKind, parse_whiteout
from imageforge.oci import Image, Layer

__all__ = ["FsNode", "FsView", "flatten", "read_layer"]


@dataclass(frozen=True)
class FsNode:
    """One path of the merged filesystem; ``layer`` is the 0-based index of the layer
    whose entry is visible."""

    path: str
    type: EntryType
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str
    layer: int


def read_layer(layer: Layer, index: int) -> LayerReader:
    """A one-pass reader over ``layer``, its errors naming the layer by index and digest."""
    return open_layer(
        layer.open_compressed(),
        name=f"#{index} ({layer.digest})",
        media_type=layer.media_type,
    )


def under(path: str, parent: str) -> bool:
    """Whether ``path`` lies strictly inside directory ``parent`` (``"."`` is the root)."""
    return parent == "." or path.startswith(parent + "/")


class FsView(Mapping[str, FsNode]):
    """The merged filesystem: a read-only mapping of normalised path -> :class:`FsNode`."""

    def __init__(self, nodes: dict[str, FsNode], layers: Sequence[Layer]) -> None:
        self._nodes = nodes
        self._layers = list(layers)

    def __getitem__(self, path: str) -> FsNode:
        return self._nodes[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def read(self, path: str) -> bytes:
        """The content of regular file ``path``, read from its layer of origin."""
        node = self._nodes.get(path)
        if node is None or node.type is not EntryType.FILE:
            raise NotFound(f"{path!r} is not a regular file of the image")
        with read_layer(self._layers[node.layer], node.layer) as reader:
            found: bytes | None = None
            for entry in reader:
                if entry.path == path:
                    found = reader.read()  # the last entry for a path wins
            reader.finish()
        if found is None:  # the layer changed under us (store damaged)
            raise NotFound(f"{path!r} is no longer in layer #{node.layer}")
        return found


def remove(nodes: dict[str, FsNode], target: str, *, keep_self: bool) -> list[FsNode]:
    """Remove ``target`` and everything under it (only what is under it when
    ``keep_self``); return the nodes removed."""
    gone = [n for p, n in nodes.items() if under(p, target)]
    if not keep_self and target in nodes:
        gone.append(nodes[target])
    for n in gone:
        del nodes[n.path]
    return gone


def flatten(image: Image) -> FsView:
    """The merged filesystem of ``image`` (whiteouts applied), from one pass per layer."""
    nodes: dict[str, FsNode] = {}
    layers = image.layers()
    for index, layer in enumerate(layers):
        with read_layer(layer, index) as reader:
            entries = list(reader)
            reader.finish()
        # Whiteouts hide only what the layers below hold: apply them first.
        for entry in entries:
            wh = parse_whiteout(entry.path)
            if wh is not None and wh.kind is not WhiteoutKind.RESERVED:
                remove(nodes, wh.target, keep_self=wh.kind is WhiteoutKind.OPAQUE)
        for entry in entries:
            if parse_whiteout(entry.path) is not None or entry.path == ".":
                continue
            old = nodes.get(entry.path)
            if old is not None and old.type is EntryType.DIR and entry.type is not EntryType.DIR:
                remove(nodes, entry.path, keep_self=True)
            nodes[entry.path] = FsNode(
                entry.path,
                entry.type,
                entry.mode,
                entry.uid,
                entry.gid,
                entry.size,
                entry.linkname,
                index,
            )
    return FsView(nodes, layers)
