"""Layers applied one on another: the merged tree and what each layer changed.

:class:`Merger` applies each layer's entries (headers only) with OCI whiteouts and
keeps the merged tree as path -> :class:`FsNode`, with the index of the layer each
visible path came from; :meth:`Merger.apply` says what the layer did as a
:class:`LayerDiff` (added, modified, removed, hidden). :func:`read_layer` and
:func:`layer_entries` read one layer of an image in one pass, their errors naming the
layer by number and digest. :class:`~imageforge.layers.FsView` is built on these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from imageforge.errors import DigestMismatch, ImageforgeError
from imageforge.layers._model import Entry, EntryType, LayerInfo
from imageforge.layers._read import LayerReader, open_layer
from imageforge.layers._whiteout import WhiteoutKind, parse_whiteout
from imageforge.oci import Layer

__all__ = [
    "FsNode",
    "LayerDiff",
    "Merger",
    "check_diff_id",
    "layer_entries",
    "layer_name",
    "naming_layer",
    "read_layer",
]


_KINDS: Final = {
    EntryType.FILE: "file",
    EntryType.HARDLINK: "file",
    EntryType.DIR: "dir",
    EntryType.SYMLINK: "symlink",
}


@dataclass(frozen=True, slots=True)
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

    @property
    def kind(self) -> str:
        """``"file"`` (a regular file or a hardlink to one), ``"dir"``, ``"symlink"`` or
        ``"other"``: what the in-root resolver and the SBOM's file views ask."""
        return _KINDS.get(self.type, "other")


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


@contextmanager
def naming_layer(layer: Layer, index: int) -> Iterator[None]:
    """Errors raised inside name the layer by number (from 1) and digest: the blob's own
    reader (a store file, an archive member) names only the digest."""
    try:
        yield
    except ImageforgeError as exc:
        name = layer_name(layer, index)
        if name not in exc.message:
            exc.message = f"layer {name}: {exc.message.removeprefix(f'layer {layer.digest}: ')}"
            exc.args = (exc.message,)
        raise


def layer_entries(layer: Layer, index: int) -> tuple[list[Entry], LayerInfo]:
    """Every member of ``layer`` (headers only, content skipped) and what the pass learned;
    errors name the layer by number (from 1) and digest."""
    with naming_layer(layer, index), read_layer(layer, index) as reader:
        entries = list(reader)
        info = reader.finish()
    return entries, info


def check_diff_id(layer: Layer, index: int, info: LayerInfo) -> None:
    """Raise :class:`DigestMismatch` naming the layer when its tar (as one pass read it)
    is not what the image config says."""
    if info.diff_id != layer.diff_id:
        raise DigestMismatch(
            f"layer {layer_name(layer, index)}: its tar is {info.diff_id}, but the image "
            f"config's diff_id says {layer.diff_id}",
            expected=str(layer.diff_id),
            actual=str(info.diff_id),
            hint="the image config does not describe this layer; rebuild or re-import the image",
        )
