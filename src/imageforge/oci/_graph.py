"""The one walk over the image graph: an index names images and other indexes, an image
names its config and layers. Copy, push and the store's reachability all walk it here."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

from imageforge.errors import InvalidArgument
from imageforge.oci import _media as media
from imageforge.oci._image import Image, ImageIndex

__all__ = ["image_children", "walk_graph", "walk_image_graph"]

N = TypeVar("N")


def walk_graph(
    roots: Iterable[N],
    children: Callable[[N], Iterable[N]],
    key: Callable[[N], Hashable] = lambda node: node,
) -> Iterator[N]:
    """Every node reachable from ``roots``, each once (by ``key``), children before the
    node that names them: the order in which a copy or push never lets a manifest name
    content not there yet. ``children`` is asked when a node is reached, so a lazy one
    opens each child only when the walk gets to it. Iterative: how deep indexes nest is
    not bounded by Python's recursion limit."""
    seen: set[Hashable] = set()
    for root in roots:
        if key(root) in seen:
            continue
        seen.add(key(root))
        stack: list[tuple[N, Iterator[N]]] = [(root, iter(children(root)))]
        while stack:
            node, pending = stack[-1]
            for child in pending:
                k = key(child)
                if k not in seen:
                    seen.add(k)
                    stack.append((child, iter(children(child))))
                    break
            else:
                stack.pop()
                yield node


def image_children(obj: Image | ImageIndex) -> Iterator[Image | ImageIndex]:
    """The images and indexes an index names, in its order, each opened when reached
    (nothing for an image). A child of any other media type is refused: it can be
    neither copied nor pushed as part of the image."""
    if not isinstance(obj, ImageIndex):
        return
    for desc in obj.manifest().manifests:
        if media.is_index(desc.media_type):
            yield obj.index(desc.digest)
        elif media.is_manifest(desc.media_type):
            yield obj.image(desc.digest)
        else:
            raise InvalidArgument(
                f"index {obj.digest}: child {desc.digest} has media type "
                f"{desc.media_type!r}, which is neither an image manifest nor an index",
                hint="imageforge copies and pushes images and indexes of images only",
            )


def walk_image_graph(root: Image | ImageIndex) -> Iterator[Image | ImageIndex]:
    """``root`` and every image and index below it, each once, children first
    (:func:`walk_graph` over :func:`image_children`)."""
    return walk_graph([root], image_children, key=lambda obj: obj.digest)
