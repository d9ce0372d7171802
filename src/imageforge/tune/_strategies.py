"""Recommendations by named strategies, each with its parameters (docs/tune.md):

- ``krr-simple``: KRR's simple strategy — CPU request at a percentile of the CPU used,
  no CPU limit; memory request = limit = the peak working set plus a buffer.
- ``vpa``: the Vertical Pod Autoscaler's recommender — usage in exponentially bucketed,
  exponentially decaying histograms (CPU per sample, memory per peak of an interval),
  the target at a percentile plus a safety margin, raised to minimum bounds; the upper
  bound's percentile is the memory limit;
- ``guide``: the guide's 4.2 example's shape — KRR's requests, limits twice them.

Both take VPA's memory bump after an OOM kill (the memory at the kill times 1.2, at
least 100 MiB more), and ``ephemeral-storage`` from the writable layer's growth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from imageforge.errors import InvalidArgument
from imageforge.tune._quantity import MIB, cpu_quantity, memory_quantity
from imageforge.tune._series import Usage, percentile

__all__ = [
    "STRATEGIES",
    "DecayingHistogram",
    "Recommendation",
    "guide_ratio",
    "krr_simple",
    "oom_bump",
    "recommend",
    "vpa",
]

OOM_BUMP_RATIO: Final = 1.2  # VPA's OOMBumpUpRatio
OOM_MIN_BUMP: Final = 100 * MIB  # VPA's OOMMinBumpUp


@dataclass(frozen=True)
class Recommendation:
    """One strategy's answer: CPU in cores, memory and storage in bytes, None where the
    strategy sets nothing."""

    strategy: str
    parameters: dict[str, Any]
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: float | None
    memory_limit: float | None
    storage_request: float | None = None
    storage_limit: float | None = None
    notes: tuple[str, ...] = field(default=())

    def resources(self) -> dict[str, dict[str, str]]:
        """The Kubernetes container ``resources`` object."""
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if self.cpu_request is not None:
            requests["cpu"] = cpu_quantity(self.cpu_request)
        if self.memory_request is not None:
            requests["memory"] = memory_quantity(self.memory_request)
        if self.storage_request is not None:
            requests["ephemeral-storage"] = memory_quantity(self.storage_request)
        if self.cpu_limit is not None:
            limits["cpu"] = cpu_quantity(self.cpu_limit)
        if self.memory_limit is not None:
            limits["memory"] = memory_quantity(self.memory_limit)
        if self.storage_limit is not None:
            limits["ephemeral-storage"] = memory_quantity(self.storage_limit)
        out: dict[str, dict[str, str]] = {"requests": requests}
        if limits:
            out["limits"] = limits
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "parameters": self.parameters,
            "resources": self.resources(),
            "notes": list(self.notes),
        }


def oom_bump(memory: float, usage: Usage) -> tuple[float, str | None]:
    """VPA's answer to an OOM kill: the memory at the kill x1.2, at least +100 MiB."""
    if not usage.oom_kills or not usage.memory_at_oom:
        return memory, None
    at = usage.memory_at_oom
    bumped = max(at * OOM_BUMP_RATIO, at + OOM_MIN_BUMP)
    note = (
        f"OOM-killed {usage.oom_kills}x at {memory_quantity(at)}: memory bumped to "
        f"max(x{OOM_BUMP_RATIO}, +100Mi) as VPA does"
    )
    return max(memory, bumped), note


def _storage(usage: Usage, margin: float, factor: float) -> tuple[float | None, float | None]:
    if usage.writable_layer is None:
        return None, None
    request = max(usage.writable_layer * (1 + margin), MIB)
    return request, request * factor


def krr_simple(
    usage: Usage,
    *,
    cpu_percentile: float = 95,
    memory_buffer_percentage: float = 15,
    cpu_min: float = 0.010,
    memory_min: float = 100 * MIB,
    points_required: int = 100,
    ephemeral_limit_factor: float = 2.0,
) -> Recommendation:
    """KRR's ``simple`` strategy (its defaults): CPU request at the 95th percentile, no
    CPU limit; memory request = limit = peak working set +15%; floors of 10m and
    100Mi."""
    notes = []
    points = len(usage.cpu.points)
    if points < points_required:
        notes.append(
            f"{points} CPU points, fewer than the {points_required} KRR asks for: "
            "run longer (--duration) or more often (--runs)"
        )
    cpu = max(percentile(usage.cpu.values, cpu_percentile), cpu_min)
    memory = max(
        max(usage.working_set.values, default=0.0) * (1 + memory_buffer_percentage / 100),
        memory_min,
    )
    memory, note = oom_bump(memory, usage)
    notes.extend([note] if note else [])
    storage, storage_limit = _storage(usage, memory_buffer_percentage / 100, ephemeral_limit_factor)
    return Recommendation(
        "krr-simple",
        {
            "cpu_percentile": cpu_percentile,
            "memory_buffer_percentage": memory_buffer_percentage,
            "cpu_min": cpu_quantity(cpu_min),
            "memory_min": memory_quantity(memory_min),
            "points_required": points_required,
        },
        cpu_request=cpu,
        cpu_limit=None,
        memory_request=memory,
        memory_limit=memory,
        storage_request=storage,
        storage_limit=storage_limit,
        notes=tuple(notes),
    )


class DecayingHistogram:
    """VPA's histogram: buckets whose sizes grow by ``ratio`` from ``first`` (bucket i
    starts at first * (ratio**i - 1) / (ratio - 1)), each sample weighted by
    2 ** (age / half_life) so newer samples count more."""

    def __init__(self, first: float, ratio: float, half_life: float) -> None:
        self.first, self.ratio, self.half_life = first, ratio, half_life
        self.weights: dict[int, float] = {}

    def start(self, bucket: int) -> float:
        return self.first * (self.ratio**bucket - 1) / (self.ratio - 1)

    def bucket(self, value: float) -> int:
        if value < self.first:
            return 0
        return int(math.floor(math.log(value * (self.ratio - 1) / self.first + 1, self.ratio)))

    def add(self, value: float, at: float, weight: float = 1.0) -> None:
        b = self.bucket(value)
        self.weights[b] = self.weights.get(b, 0.0) + weight * 2 ** (at / self.half_life)

    def percentile(self, p: float) -> float:
        """The end of the bucket where the weight reaches ``p`` (0-1), as VPA answers."""
        total = sum(self.weights.values())
        if total == 0:
            return 0.0
        seen = 0.0
        for b in sorted(self.weights):
            seen += self.weights[b]
            if seen >= p * total:
                return self.start(b + 1)
        return self.start(max(self.weights) + 1)


def _peaks(points: Sequence[tuple[float, float]], interval: float) -> list[tuple[float, float]]:
    """The highest value in each ``interval`` seconds (VPA keeps one peak per 24 h)."""
    out: dict[int, tuple[float, float]] = {}
    for at, value in points:
        key = int(at // interval)
        if key not in out or value > out[key][1]:
            out[key] = (at, value)
    return [out[k] for k in sorted(out)]


def vpa(
    usage: Usage,
    *,
    target_percentile: float = 0.9,
    upper_percentile: float = 0.95,
    safety_margin: float = 0.15,
    min_cpu: float = 0.025,
    min_memory: float = 250 * MIB,
    half_life: float = 24 * 3600.0,
    memory_interval: float = 5.0,
    ephemeral_limit_factor: float = 2.0,
) -> Recommendation:
    """VPA's recommender (its defaults): target at the 90th percentile +15%, at least
    25m and 250Mi; CPU histogram from 0.01 cores, memory from 10 MB, buckets +5% each;
    24 h half-life. VPA keeps one memory peak per 24 h; a run of seconds keeps one per
    ``memory_interval`` seconds. The memory limit is the upper bound (95th percentile
    +15%); no CPU limit."""
    cpu = DecayingHistogram(0.01, 1.05, half_life)
    for at, cores in usage.cpu.points:
        cpu.add(cores, at)
    memory = DecayingHistogram(1e7, 1.05, half_life)
    for at, value in _peaks(usage.working_set.points, memory_interval):
        memory.add(value, at)
    margin = 1 + safety_margin
    cpu_target = max(cpu.percentile(target_percentile) * margin, min_cpu)
    mem_target = max(memory.percentile(target_percentile) * margin, min_memory)
    mem_upper = max(memory.percentile(upper_percentile) * margin, mem_target)
    notes = []
    mem_upper, note = oom_bump(mem_upper, usage)
    if note:
        mem_target = max(mem_target, mem_upper)
        notes.append(note)
    storage, storage_limit = _storage(usage, safety_margin, ephemeral_limit_factor)
    return Recommendation(
        "vpa",
        {
            "target_percentile": target_percentile,
            "upper_percentile": upper_percentile,
            "safety_margin": safety_margin,
            "min_cpu": cpu_quantity(min_cpu),
            "min_memory": memory_quantity(min_memory),
            "half_life_s": half_life,
            "memory_interval_s": memory_interval,
        },
        cpu_request=cpu_target,
        cpu_limit=None,
        memory_request=mem_target,
        memory_limit=mem_upper,
        storage_request=storage,
        storage_limit=storage_limit,
        notes=tuple(notes),
    )


def guide_ratio(usage: Usage, *, limit_ratio: float = 2.0) -> Recommendation:
    """The guide's 4.2 shape: requests as KRR's simple strategy measures them, limits
    ``limit_ratio`` x the requests for CPU and memory (its example: requests 250m /
    256Mi, limits 500m / 512Mi). The only strategy with a CPU limit, so the only one
    ``--verify`` can throttle."""
    base = krr_simple(usage)
    assert base.cpu_request is not None and base.memory_request is not None
    return Recommendation(
        "guide",
        {**base.parameters, "limit_ratio": limit_ratio},
        cpu_request=base.cpu_request,
        cpu_limit=base.cpu_request * limit_ratio,
        memory_request=base.memory_request,
        memory_limit=base.memory_request * limit_ratio,
        storage_request=base.storage_request,
        storage_limit=base.storage_limit,
        notes=base.notes,
    )


STRATEGIES: Final[dict[str, Callable[[Usage], Recommendation]]] = {
    "krr-simple": krr_simple,
    "vpa": vpa,
    "guide": guide_ratio,
}


def recommend(usage: Usage, names: Sequence[str] = tuple(STRATEGIES)) -> list[Recommendation]:
    """Every named strategy's recommendation, in the order given."""
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise InvalidArgument(f"no strategy {unknown[0]!r}", hint="one of " + ", ".join(STRATEGIES))
    return [STRATEGIES[n](usage) for n in names]
