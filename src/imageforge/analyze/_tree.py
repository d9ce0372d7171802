"""File trees to show: one layer's own changes, or the merged image with every change
along the way. The CLI draws them (rich colours on a terminal, plain text otherwise)."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from imageforge.analyze._model import Analysis
from imageforge.errors import InvalidArgument
from imageforge.layers import EntryType, FsNode

__all__ = ["Change", "TreeNode", "file_tree"]


class Change(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    UNCHANGED = "unchanged"


@dataclass
class TreeNode:
    """One path: ``size`` is a file's own size, or for a directory the bytes of the
    files shown below it that are not removed; ``layer`` the 0-based layer that wrote
    it (None for a parent only implied)."""

    name: str
    path: str
    type: EntryType
    change: Change
    size: int = 0
    layer: int | None = None
    linkname: str = ""
    children: dict[str, TreeNode] = field(default_factory=dict, repr=False)

    def sorted_children(self) -> list[TreeNode]:
        return [self.children[k] for k in sorted(self.children)]

    def walk(self) -> Iterator[tuple[int, TreeNode]]:
        """(depth, node) of everything below this node, parents first, by name."""
        stack = [(0, c) for c in reversed(self.sorted_children())]
        while stack:  # iterative: paths may nest deeper than Python's recursion limit
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, c) for c in reversed(node.sorted_children()))


def _unchanged_dir(old: FsNode, new: FsNode) -> bool:
    return (
        old.type is EntryType.DIR
        and new.type is EntryType.DIR
        and (old.mode, old.uid, old.gid) == (new.mode, new.uid, new.gid)
    )


def _place(root: TreeNode, node: FsNode, change: Change) -> None:
    parts = node.path.split("/")
    here = root
    for i, name in enumerate(parts[:-1]):
        child = here.children.get(name)
        if child is None:
            child = TreeNode(name, "/".join(parts[: i + 1]), EntryType.DIR, Change.UNCHANGED)
            here.children[name] = child
        here = child
    existing = here.children.get(parts[-1])
    new = TreeNode(parts[-1], node.path, node.type, change, node.size, node.layer, node.linkname)
    if existing is not None:
        new.children = existing.children
    here.children[parts[-1]] = new


def _sum(root: TreeNode) -> None:
    """Directory sizes, children first: the files below that are not removed (for a
    removed directory: everything below it)."""
    order = [root, *(n for _, n in root.walk())]
    for node in reversed(order):
        if node.children:
            removed = node.change is Change.REMOVED
            node.size = sum(
                c.size for c in node.children.values() if removed or c.change is not Change.REMOVED
            )


def file_tree(analysis: Analysis, layer: int | None = None) -> TreeNode:
    """The tree of layer ``layer`` (0-based: what it added, modified and removed) or,
    with None, the merged image: every path at the end (``unchanged`` if the first
    layer wrote it and nothing rewrote it, ``added`` if a later layer did, ``modified``
    if more than one layer wrote it; a directory re-listed unchanged is not rewritten)
    plus every path removed on the way."""
    diffs = analysis.diffs
    root = TreeNode("", ".", EntryType.DIR, Change.UNCHANGED)
    if layer is not None:
        if not 0 <= layer < len(diffs):
            raise InvalidArgument(
                f"layer {layer + 1} does not exist",
                hint=f"the image has layers 1 to {len(diffs)}",
            )
        diff = diffs[layer]
        for n in diff.removed:
            _place(root, n, Change.REMOVED)
        for n in diff.added:
            _place(root, n, Change.ADDED)
        for old, new in diff.modified:
            _place(root, new, Change.UNCHANGED if _unchanged_dir(old, new) else Change.MODIFIED)
    else:
        written: dict[str, int] = {}
        origin: dict[str, int] = {}  # the layer of each path's last real write
        last: dict[str, FsNode] = {}
        gone: dict[str, FsNode] = {}
        for diff in diffs:
            for n in diff.hidden:
                if last.get(n.path) is n:
                    del last[n.path]
                    gone[n.path] = n
            writes: list[tuple[FsNode | None, FsNode]] = [(None, n) for n in diff.added]
            writes.extend(diff.modified)
            for before, n in writes:
                # A directory only re-listed as it was is not written again.
                if before is None or not _unchanged_dir(before, n):
                    written[n.path] = written.get(n.path, 0) + 1
                    origin[n.path] = n.layer
                last[n.path] = n
                gone.pop(n.path, None)
        for n in gone.values():
            _place(root, n, Change.REMOVED)
        for path, n in sorted(last.items()):
            if written[path] > 1:
                change = Change.MODIFIED
            elif origin[path] == 0:
                change = Change.UNCHANGED
            else:
                change = Change.ADDED
            _place(root, n, change)
    _sum(root)
    return root
