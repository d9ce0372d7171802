"""One pass over an image's layers -> :class:`Analysis`."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from imageforge.analyze._dive import dive_numbers
from imageforge.analyze._model import (
    Analysis,
    BiggestPath,
    LayerReport,
    Waste,
    WasteByStep,
    WastedPath,
)
from imageforge.layers import EntryType, FsNode, FsView, LayerDiff
from imageforge.oci import History, Image
from imageforge.progress import NULL_PROGRESS, ProgressSink

__all__ = ["analyze", "layer_history"]

MISSING = "(missing)"


def layer_history(history: Sequence[History], layers: int) -> list[History | None]:
    """The history entry of each layer: non-empty entries belong to layers in order
    (as docker, podman and dive pair them); None where history runs out."""
    content = [h for h in history if not h.empty_layer]
    return [content[i] if i < len(content) else None for i in range(layers)]


def _unchanged_dir(old: FsNode, new: FsNode) -> bool:
    return (
        old.type is EntryType.DIR
        and new.type is EntryType.DIR
        and (old.mode, old.uid, old.gid) == (new.mode, new.uid, new.gid)
    )


def _still_linked(final: Mapping[str, FsNode]) -> set[tuple[int, str]]:
    """(layer, path) of files whose content a visible hardlink of the same layer still
    reaches: hiding the path does not make those bytes unreachable."""
    return {(n.layer, n.linkname) for n in final.values() if n.type is EntryType.HARDLINK}


def analyze(
    image: Image,
    *,
    progress: ProgressSink = NULL_PROGRESS,
    workers: int = 2,
    top: int = 100,
) -> Analysis:
    """Read every layer of ``image`` once and work out what each adds, what is wasted
    (dive's numbers and imageforge's own) and the biggest files and directories (``top``
    of each). A damaged layer raises an error naming it by number and digest."""
    layers = list(image.layers())
    descriptors = image.manifest().layers
    history = layer_history(image.config().history, len(layers))
    steps = [(h.created_by or h.comment or MISSING) if h is not None else MISSING for h in history]
    progress.start("analyze", f"analysing {image.digest}", len(layers), "layers")
    view = FsView(image, workers=workers)
    diffs: list[LayerDiff] = []
    try:
        for diff in view.layer_diffs():
            diffs.append(diff)
            progress.advance("analyze")
    except BaseException:
        progress.done("analyze", failed=True)
        raise
    progress.done("analyze")
    final = view.nodes
    dive = dive_numbers([d.entries for d in diffs])

    linked = _still_linked(final)
    wasted: list[WastedPath] = []
    for diff in diffs:
        rewritten = {new.path for _, new in diff.modified}
        rewritten.update(n.path for n in diff.added)
        for node in diff.hidden:
            if node.type is not EntryType.FILE or (node.layer, node.path) in linked:
                continue
            wasted.append(
                WastedPath(
                    node.path,
                    node.size,
                    node.layer,
                    steps[node.layer],
                    diff.index,
                    steps[diff.index],
                    "overwritten" if node.path in rewritten else "removed",
                )
            )
    wasted.sort(key=lambda w: (-w.size, w.path, w.created_in))
    groups: dict[tuple[int, int], list[int]] = {}
    for w in wasted:
        group = groups.setdefault((w.created_in, w.hidden_in), [0, 0])
        group[0] += w.size
        group[1] += 1
    by_step = sorted(
        (
            WasteByStep(c, steps[c], h, steps[h], size, files)
            for (c, h), (size, files) in groups.items()
        ),
        key=lambda s: (-s.bytes, s.created_in, s.hidden_in),
    )
    wasted_bytes = sum(w.size for w in wasted)
    written = dive.image_size  # every layer's file bytes
    user_size = dive.user_size
    waste = Waste(
        wasted_bytes=wasted_bytes,
        efficiency=1.0 if written == 0 else (written - wasted_bytes) / written,
        user_wasted_percent=wasted_bytes / user_size if user_size else 0.0,
        reachable_bytes=written - wasted_bytes,
        paths=tuple(wasted),
        by_step=tuple(by_step),
    )

    wasted_per_layer = [0] * len(layers)
    for w in wasted:
        wasted_per_layer[w.created_in] += w.size
    reports = []
    for diff, layer, desc in zip(diffs, layers, descriptors, strict=True):
        modified = sum(1 for old, new in diff.modified if not _unchanged_dir(old, new))
        h = history[diff.index]
        reports.append(
            LayerReport(
                index=diff.index,
                digest=str(layer.digest),
                media_type=desc.media_type,
                size=dive.layer_sizes[diff.index],
                compressed_size=desc.size,
                created_by=steps[diff.index],
                comment=(h.comment or "") if h is not None else "",
                entries=len(diff.entries),
                added=len(diff.added),
                modified=modified,
                removed=len(diff.removed),
                wasted_bytes=wasted_per_layer[diff.index],
            )
        )

    files = [n for n in final.values() if n.type is EntryType.FILE]
    biggest_files = tuple(
        BiggestPath(n.path, n.size, n.layer)
        for n in heapq.nsmallest(top, files, key=lambda n: (-n.size, n.path))
    )
    dir_sizes: dict[str, int] = {}
    for n in files:
        parent = n.path.rpartition("/")[0]
        while parent:
            dir_sizes[parent] = dir_sizes.get(parent, 0) + n.size
            parent = parent.rpartition("/")[0]
    biggest_dirs = tuple(
        BiggestPath(p, s)
        for p, s in heapq.nsmallest(top, dir_sizes.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return Analysis(
        digest=str(image.digest),
        image_size=dive.image_size,
        user_size=user_size,
        layers=tuple(reports),
        dive=dive,
        waste=waste,
        biggest_files=biggest_files,
        biggest_directories=biggest_dirs,
        diffs=tuple(diffs),
    )
