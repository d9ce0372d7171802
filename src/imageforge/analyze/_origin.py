"""Which layer of an image something came from, as the scanners report it: the layer's
number, digests and the history step (Dockerfile instruction) that made it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imageforge.analyze._analyze import layer_history
from imageforge.oci import Image

__all__ = ["LayerOrigin", "layer_origins"]


@dataclass(frozen=True)
class LayerOrigin:
    """Layer ``index`` (0-based) of an image: its blob ``digest``, its ``diff_id`` and
    the ``created_by`` of its history entry (None when the history does not say)."""

    index: int
    digest: str
    diff_id: str
    created_by: str | None = None

    @property
    def number(self) -> int:
        """The layer's number as ``inspect`` and error messages show it (from 1)."""
        return self.index + 1

    def describe(self) -> str:
        """``layer 3 (RUN make install)``, or ``layer 3`` without a history step."""
        step = " ".join((self.created_by or "").split())
        if len(step) > 80:
            step = step[:77] + "..."
        return f"layer {self.number} ({step})" if step else f"layer {self.number}"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.number,
            "digest": self.digest,
            "diffId": self.diff_id,
            "createdBy": self.created_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerOrigin:
        """What :meth:`to_json` wrote."""
        return cls(
            int(data["index"]) - 1, str(data["digest"]), str(data["diffId"]), data["createdBy"]
        )


def layer_origins(image: Image) -> list[LayerOrigin]:
    """The :class:`LayerOrigin` of each layer of ``image``, bottom first."""
    layers = list(image.layers())
    history = layer_history(image.config().history, len(layers))
    out = []
    for i, (layer, step) in enumerate(zip(layers, history, strict=True)):
        created_by = None if step is None else (step.created_by or step.comment)
        out.append(LayerOrigin(i, str(layer.digest), str(layer.diff_id), created_by))
    return out
