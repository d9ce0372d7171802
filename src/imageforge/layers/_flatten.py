"""The merged filesystem of an image, from one streaming pass over its layers.

:func:`flatten` reads every layer once (headers only; content is skipped, never
unpacked to disk), applies OCI whiteouts and returns an :class:`FsView`: path ->
:class:`FsNode` with the type, mode, owner, size, link target and the index of the
layer each surviving path came from. Content is opened lazily with
:meth:`FsView.read`, which re-reads only the layer of origin.

:func:`walk_layers` gives the same pass layer by layer as :class:`LayerDiff` objects
(what each layer added, modified, removed and hid), for ``analyze``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from imageforge.errors import DigestMismatch, ImageforgeError, NotFound
from imageforge.layers._model import Entry, EntryType, LayerInfo
from imageforge.layers._read import LayerReader, open_layer
from imageforge.layers._whiteout import WhiteoutKind, parse_whiteout
from imageforge.oci import Image, Layer

__all__ = [
    "FsNode",
    "FsView",
    "LayerDiff",
    "Merger",
    "flatten",
    "layer_entries",
    "layer_name",
    "read_layer",
    "walk_layers",
]


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


def layer_name(layer: Layer, index: int) -> str:
    """How errors name the layer at 0-based ``index``: ``#N (digest)``, numbered from 1
    as ``inspect`` lists layers."""
    return f"#{index + 1} ({layer.digest})"


def read_layer(layer: Layer, index: int) -> LayerReader:
    """A one-pass reader over ``layer``, its errors naming the layer by number and digest;
    closing the reader closes the blob it opened."""
    stream = layer.open_compressed()
    try:
        reader = open_layer(stream, name=layer_name(layer, index), media_type=layer.media_type)
    except BaseException:
        stream.close()
        raise
    reader._owned = stream
    return reader


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


@dataclass(frozen=True)
class LayerDiff:
    """What one layer did to the merged filesystem below it.

    ``entries`` are the layer's members in tar order (whiteouts included). ``added``
    holds the new nodes of paths not visible before; ``modified`` pairs (old, new) for
    paths visible before and written again (also after a whiteout or an opaque
    directory in the same layer); ``removed`` the nodes visible before and gone after
    (whiteouts, opaque directories, a directory replaced by a non-directory).
    ``hidden`` is every node that stopped being visible in this layer: ``removed``,
    the old node of each ``modified`` pair and earlier versions of a path the layer
    itself writes twice."""

    index: int
    entries: tuple[Entry, ...]
    added: tuple[FsNode, ...]
    modified: tuple[tuple[FsNode, FsNode], ...]
    removed: tuple[FsNode, ...]
    hidden: tuple[FsNode, ...]


def _parent(path: str) -> str:
    return path.rpartition("/")[0] or "."


class Merger:
    """Applies layers one after another; keeps the merged tree and an index of each
    directory's children, so removing a subtree costs its own size, not the image's."""

    def __init__(self) -> None:
        self.nodes: dict[str, FsNode] = {}
        self._children: dict[str, set[str]] = {}

    def _put(self, node: FsNode) -> None:
        # Link the path into its parent's children, and so on up while the parents are
        # not linked yet (a layer need not list the directories its files are in).
        path = node.path
        while path != ".":
            parent = _parent(path)
            siblings = self._children.setdefault(parent, set())
            if path in siblings:
                break
            siblings.add(path)
            path = parent
        self.nodes[node.path] = node

    def _drop(self, path: str, *, keep_self: bool, out: list[FsNode]) -> None:
        stack = list(self._children.pop(path, ()))
        while stack:
            child = stack.pop()
            stack.extend(self._children.pop(child, ()))
            node = self.nodes.pop(child, None)
            if node is not None:
                out.append(node)
        if not keep_self and path in self.nodes:
            out.append(self.nodes.pop(path))
            siblings = self._children.get(_parent(path))
            if siblings is not None:
                siblings.discard(path)

    def apply(self, index: int, entries: Sequence[Entry]) -> LayerDiff:
        """Apply one layer's entries (as read) and say what changed."""
        removed: dict[str, FsNode] = {}
        hidden: list[FsNode] = []
        # Whiteouts hide only what the layers below hold: apply them first.
        for entry in entries:
            wh = parse_whiteout(entry.path)
            if wh is not None and wh.kind is not WhiteoutKind.RESERVED:
                gone: list[FsNode] = []
                self._drop(wh.target, keep_self=wh.kind is WhiteoutKind.OPAQUE, out=gone)
                for n in gone:
                    removed[n.path] = n
        added: dict[str, FsNode] = {}
        modified: dict[str, tuple[FsNode, FsNode]] = {}
        for entry in entries:
            if entry.path == "." or parse_whiteout(entry.path) is not None:
                continue
            new = FsNode(
                entry.path,
                entry.type,
                entry.mode,
                entry.uid,
                entry.gid,
                entry.size,
                entry.linkname,
                index,
            )
            old = self.nodes.get(entry.path)
            if (
                entry.type is not EntryType.DIR
                and (old is None or old.type is EntryType.DIR)
                and self._children.get(entry.path)
            ):  # a non-directory replaces a directory (listed or implied) and all below
                gone = []
                self._drop(entry.path, keep_self=True, out=gone)
                for n in gone:
                    if n.layer == index:  # written by this layer, now under a non-directory
                        hidden.append(n)
                        added.pop(n.path, None)
                        if n.path in modified:
                            removed[n.path] = modified.pop(n.path)[0]
                    else:
                        removed[n.path] = n
            if old is not None and old.layer == index:
                hidden.append(old)  # the layer writes this path twice; the last wins
                if entry.path in modified:
                    modified[entry.path] = (modified[entry.path][0], new)
                else:
                    added[entry.path] = new
            elif old is not None:
                modified[entry.path] = (old, new)
            elif entry.path in removed:
                modified[entry.path] = (removed.pop(entry.path), new)
            else:
                added[entry.path] = new
            self._put(new)
        for old, _ in modified.values():
            hidden.append(old)
        hidden.extend(removed.values())
        return LayerDiff(
            index,
            tuple(entries),
            tuple(added.values()),
            tuple(modified.values()),
            tuple(removed.values()),
            tuple(hidden),
        )


def layer_entries(layer: Layer, index: int) -> tuple[list[Entry], LayerInfo]:
    """Every member of ``layer`` (headers only, content skipped) and what the pass learned;
    errors name the layer by number (from 1) and digest."""
    try:
        with read_layer(layer, index) as reader:
            entries = list(reader)
            info = reader.finish()
    except ImageforgeError as exc:
        # The blob's own reader (a store file, an archive member) names only the digest.
        name = layer_name(layer, index)
        if name not in exc.message:
            exc.message = f"layer {name}: {exc.message.removeprefix(f'layer {layer.digest}: ')}"
            exc.args = (exc.message,)
        raise
    return entries, info


def walk_layers(image: Image, *, workers: int = 2) -> Iterator[LayerDiff]:
    """The :class:`LayerDiff` of each layer of ``image``, bottom first. Up to ``workers``
    layers are read at once (decompression and hashing release the GIL); they are
    applied in order. A layer whose tar does not hash to the config's diff_id raises
    :class:`DigestMismatch` naming it."""
    layers = list(image.layers())
    merger = Merger()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(layer_entries, layer, i) for i, layer in enumerate(layers)]
        try:
            for index, future in enumerate(futures):
                entries, info = future.result()
                expected = layers[index].diff_id
                if info.diff_id != expected:
                    raise DigestMismatch(
                        f"layer {layer_name(layers[index], index)}: its tar is "
                        f"{info.diff_id}, but the image config says {expected}",
                        expected=str(expected),
                        actual=str(info.diff_id),
                        hint="the image config does not describe this layer; rebuild or "
                        "re-import the image",
                    )
                yield merger.apply(index, entries)
        finally:
            for future in futures:
                future.cancel()


def flatten(image: Image) -> FsView:
    """The merged filesystem of ``image`` (whiteouts applied), from one pass per layer."""
    merger = Merger()
    layers = image.layers()
    for index, layer in enumerate(layers):
        entries, _ = layer_entries(layer, index)
        merger.apply(index, entries)
    return FsView(merger.nodes, layers)
