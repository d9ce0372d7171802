"""dive's efficiency numbers, computed the way dive computes them.

Written from reading dive's ``filetree/efficiency.go``, ``filetree/file_tree.go`` and
``image/analysis.go`` (no code copied; there is no library for this). What dive does,
and so what this does:

- Each layer is a tree of its own entries; the parents of an entry that the tar does not
  list are implicit nodes with empty metadata. Names starting ``.wh..wh..`` (opaque
  whiteouts) are dropped: dive ignores them entirely.
- Every *leaf* of a layer's tree (a node without children in that layer) is one sighting
  of its path (a whiteout ``.wh.x`` is a sighting of ``x``). Its size is the entry's size;
  for a whiteout, the summed sizes of what it removes **only when that was a directory**
  in dive's stacked tree of the layers below. A whiteout over a regular file counts
  0 bytes (dive's known quirk), and so does one over a directory that a later layer only
  touched implicitly (stacking copies the implicit node's empty metadata, which is not
  marked as a directory).
- Per path, ``cumulative`` = sum of its sightings' sizes, ``minimum`` = the smallest.
  efficiency = sum(minimum) / sum(cumulative), 1.0 when that is 0; wasted bytes = sum of
  ``cumulative`` over paths sighted twice or more (the copy that is kept included).
- Image size = sum over layers of their entries' tar sizes; user size = that minus the
  first layer; user-wasted percent = wasted / user size (0 here when user size is 0,
  where dive divides by zero).
- When a whiteout names a path that does not exist below, dive's tree walk for that
  layer stops with an error (logged at debug level) and the rest of the layer's leaves
  are not counted; this does the same and says so in ``notes``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from imageforge.layers import WHITEOUT_PREFIX, Entry, EntryType

__all__ = ["DiveNumbers", "DivePath", "dive_numbers"]

_DOUBLE_WHITEOUT = ".wh..wh.."


@dataclass(frozen=True)
class DivePath:
    """One path dive saw in more than one place: ``count`` sightings."""

    path: str
    count: int
    cumulative: int
    minimum: int


@dataclass(frozen=True)
class DiveNumbers:
    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float
    image_size: int
    user_size: int
    layer_sizes: tuple[int, ...]
    inefficiencies: tuple[DivePath, ...]  # biggest cumulative first
    notes: tuple[str, ...] = field(default=())


class _Node:
    __slots__ = ("children", "is_dir", "name", "size")

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: dict[str, _Node] = {}
        self.is_dir = False
        self.size = 0

    def set_payload(self, is_dir: bool, size: int) -> None:
        self.is_dir = is_dir
        self.size = size

    def copy(self) -> _Node:
        new = _Node(self.name)
        stack = [(self, new)]
        while stack:  # iterative: a hostile layer may nest paths thousands deep
            src, dst = stack.pop()
            dst.set_payload(src.is_dir, src.size)
            for name, child in src.children.items():
                copied = dst.children[name] = _Node(name)
                stack.append((child, copied))
        return new

    def child_first(self) -> Iterator[tuple[str, _Node]]:
        """(path, node) of every node below this one, children before parents, siblings
        by name (dive's default order); the root itself is never yielded."""
        stack: list[tuple[str, _Node, bool]] = [
            (name, self.children[name], False) for name in sorted(self.children, reverse=True)
        ]
        while stack:
            path, node, expanded = stack.pop()
            if expanded or not node.children:
                yield path, node
                continue
            stack.append((path, node, True))
            for name in sorted(node.children, reverse=True):
                stack.append((f"{path}/{name}", node.children[name], False))

    def total(self) -> int:
        size, stack = 0, [self]
        while stack:
            node = stack.pop()
            size += node.size
            stack.extend(node.children.values())
        return size


def _visible_path(path: str) -> str:
    parent, _, name = path.rpartition("/")
    if name.startswith(WHITEOUT_PREFIX):
        name = name[len(WHITEOUT_PREFIX) :]
    return f"{parent}/{name}" if parent else name


class _Tree:
    def __init__(self) -> None:
        self.root = _Node("")

    def add(self, path: str, is_dir: bool, size: int) -> None:
        node = self.root
        parts = path.split("/")
        for i, name in enumerate(parts):
            child = node.children.get(name)
            if child is None:
                if name.startswith(_DOUBLE_WHITEOUT):
                    return
                child = node.children[name] = _Node(name)
            node = child
            if i == len(parts) - 1:
                node.set_payload(is_dir, size)

    def get(self, path: str) -> _Node | None:
        node = self.root
        for name in path.split("/"):
            found = node.children.get(name)
            if found is None:
                return None
            node = found
        return node

    def remove(self, path: str) -> None:
        parent, _, name = path.rpartition("/")
        node = self.get(parent) if parent else self.root
        if node is not None:
            node.children.pop(name, None)

    def stack(self, upper: _Tree) -> None:
        for path, node in upper.root.child_first():
            if node.name.startswith(WHITEOUT_PREFIX):
                self.remove(_visible_path(path))
            else:
                self.add(path, node.is_dir, node.size)

    def copy(self) -> _Tree:
        new = _Tree()
        new.root = self.root.copy()
        return new


def _layer_tree(entries: Sequence[Entry]) -> tuple[_Tree, int]:
    tree = _Tree()
    size = 0
    for entry in entries:
        if entry.path == ".":
            continue
        size += entry.size
        tree.add(entry.path, entry.type is EntryType.DIR, entry.size)
    return tree, size


def dive_numbers(layers: Sequence[Sequence[Entry]]) -> DiveNumbers:
    """dive's efficiency, wasted bytes and user-wasted percent for an image whose layers
    hold ``layers`` (each layer's entries in tar order, bottom layer first)."""
    built = [_layer_tree(entries) for entries in layers]
    trees = [t for t, _ in built]
    sizes = tuple(s for _, s in built)
    cumulative: dict[str, int] = {}
    minimum: dict[str, int] = {}
    count: dict[str, int] = {}
    notes: list[str] = []
    stacked = trees[0].copy() if trees else _Tree()
    for index, tree in enumerate(trees):
        for raw_path, node in tree.root.child_first():
            if node.children:
                continue
            path = _visible_path(raw_path)
            size = node.size
            if node.name.startswith(WHITEOUT_PREFIX):
                below = stacked.get(path)
                if below is None:
                    notes.append(
                        f"layer {index + 1}: whiteout of {path!r}, which no layer below has; "
                        "dive stops counting this layer there, and so does this number"
                    )
                    break
                size = below.total() if below.is_dir else 0
            cumulative[path] = cumulative.get(path, 0) + size
            minimum[path] = min(minimum.get(path, size), size)
            count[path] = count.get(path, 0) + 1
        stacked.stack(tree)
    total_cumulative = sum(cumulative.values())
    efficiency = 1.0 if total_cumulative == 0 else sum(minimum.values()) / total_cumulative
    repeated = [
        DivePath(p, count[p], cumulative[p], minimum[p]) for p in cumulative if count[p] >= 2
    ]
    repeated.sort(key=lambda d: (-d.cumulative, d.path))
    wasted = sum(d.cumulative for d in repeated)
    image_size = sum(sizes)
    user_size = image_size - (sizes[0] if sizes else 0)
    return DiveNumbers(
        efficiency=efficiency,
        wasted_bytes=wasted,
        user_wasted_percent=wasted / user_size if user_size else 0.0,
        image_size=image_size,
        user_size=user_size,
        layer_sizes=sizes,
        inefficiencies=tuple(repeated),
        notes=tuple(notes),
    )
