"""The Gate seam and its combinators. ``AllOf([])`` refuses: an empty policy is a
mistake, not a blanket allow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imageforge.oci import Digest

__all__ = ["AllOf", "AnyOf", "Decision", "Gate", "GateContext"]


@dataclass(frozen=True)
class GateContext:
    action: str  # "push" or "pull"
    repository: str
    user: str | None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Gate(Protocol):
    def check(self, image: Digest, ctx: GateContext) -> Decision: ...


class AllOf:
    def __init__(self, gates: Sequence[Gate]) -> None:
        self.gates = list(gates)

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        if not self.gates:
            return Decision(False, "empty AllOf policy refuses everything")
        for gate in self.gates:
            d = gate.check(image, ctx)
            if not d.allowed:
                return d
        return Decision(True)


class AnyOf:
    def __init__(self, gates: Sequence[Gate]) -> None:
        self.gates = list(gates)

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        reasons = []
        for gate in self.gates:
            d = gate.check(image, ctx)
            if d.allowed:
                return d
            reasons.append(d.reason)
        return Decision(False, "; ".join(reasons) or "empty AnyOf policy refuses everything")
