"""What an analysis found: per-layer facts, dive's numbers, imageforge's own waste
accounting, the biggest files and directories. ``to_json`` gives the documented,
stable JSON shape (sizes in bytes, layers numbered from 1 as ``inspect`` shows them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imageforge.analyze._dive import DiveNumbers
from imageforge.layers import LayerDiff

__all__ = [
    "Analysis",
    "BiggestPath",
    "LayerReport",
    "Waste",
    "WastedPath",
    "WasteByStep",
]


@dataclass(frozen=True)
class LayerReport:
    """One layer. ``index`` is 0-based; ``size`` is the bytes of its files (what dive
    calls the layer size), ``compressed_size`` the blob as stored. ``added``,
    ``modified`` and ``removed`` count paths (a directory only re-listed with the same
    mode and owner is not "modified")."""

    index: int
    digest: str
    media_type: str
    size: int
    compressed_size: int
    created_by: str
    comment: str
    entries: int
    added: int
    modified: int
    removed: int
    wasted_bytes: int  # bytes this layer wrote that a later layer hid

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.index + 1,
            "digest": self.digest,
            "mediaType": self.media_type,
            "size": self.size,
            "compressedSize": self.compressed_size,
            "createdBy": self.created_by,
            "comment": self.comment,
            "entries": self.entries,
            "added": self.added,
            "modified": self.modified,
            "removed": self.removed,
            "wastedBytes": self.wasted_bytes,
        }


@dataclass(frozen=True)
class WastedPath:
    """A file version that is not reachable in the final filesystem: written by layer
    ``created_in`` (0-based), hidden by layer ``hidden_in`` (``how``: ``overwritten`` or
    ``removed``)."""

    path: str
    size: int
    created_in: int
    created_by: str
    hidden_in: int
    hidden_by: str
    how: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "createdIn": self.created_in + 1,
            "createdBy": self.created_by,
            "hiddenIn": self.hidden_in + 1,
            "hiddenBy": self.hidden_by,
            "how": self.how,
        }


@dataclass(frozen=True)
class WasteByStep:
    """Wasted bytes grouped by the instruction that wrote them and the one that hid them."""

    created_in: int
    created_by: str
    hidden_in: int
    hidden_by: str
    bytes: int
    files: int

    def to_json(self) -> dict[str, Any]:
        return {
            "createdIn": self.created_in + 1,
            "createdBy": self.created_by,
            "hiddenIn": self.hidden_in + 1,
            "hiddenBy": self.hidden_by,
            "bytes": self.bytes,
            "files": self.files,
        }


@dataclass(frozen=True)
class Waste:
    """imageforge's own numbers: only bytes no longer reachable in the final filesystem
    count as waste (dive also counts the copy that is kept). efficiency = reachable /
    written; user-wasted percent = wasted / (image size - first layer size)."""

    wasted_bytes: int
    efficiency: float
    user_wasted_percent: float
    reachable_bytes: int
    paths: tuple[WastedPath, ...]  # biggest first
    by_step: tuple[WasteByStep, ...]  # biggest first

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        return {
            "wastedBytes": self.wasted_bytes,
            "efficiency": self.efficiency,
            "userWastedPercent": self.user_wasted_percent,
            "reachableBytes": self.reachable_bytes,
            "byStep": [s.to_json() for s in self.by_step],
            "paths": [p.to_json() for p in self.paths[:limit]],
        }


@dataclass(frozen=True)
class BiggestPath:
    path: str
    size: int
    layer: int | None = None  # 0-based layer of origin (files only)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "size": self.size}
        if self.layer is not None:
            out["layer"] = self.layer + 1
        return out


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyze`` found about one image. ``diffs`` keeps the per-layer
    changes for drawing trees."""

    digest: str
    image_size: int
    user_size: int
    layers: tuple[LayerReport, ...]
    dive: DiveNumbers
    waste: Waste
    biggest_files: tuple[BiggestPath, ...]
    biggest_directories: tuple[BiggestPath, ...]
    diffs: tuple[LayerDiff, ...] = field(repr=False, compare=False, default=())

    def to_json(self, limit: int | None = 20) -> dict[str, Any]:
        """The JSON document of ``imageforge analyze --format json`` (lists of paths cut
        to ``limit`` entries; None: all)."""
        return {
            "digest": self.digest,
            "size": self.image_size,
            "userSize": self.user_size,
            "layers": [layer.to_json() for layer in self.layers],
            "dive": {
                "efficiency": self.dive.efficiency,
                "wastedBytes": self.dive.wasted_bytes,
                "userWastedPercent": self.dive.user_wasted_percent,
                "inefficiencies": [
                    {
                        "path": d.path,
                        "count": d.count,
                        "cumulativeSize": d.cumulative,
                        "minimumSize": d.minimum,
                    }
                    for d in self.dive.inefficiencies[:limit]
                ],
                "notes": list(self.dive.notes),
            },
            "waste": self.waste.to_json(limit),
            "biggestFiles": [b.to_json() for b in self.biggest_files[:limit]],
            "biggestDirectories": [b.to_json() for b in self.biggest_directories[:limit]],
        }
