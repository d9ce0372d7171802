"""A container's cgroup samples turned into series over time and their percentiles: CPU
cores used, the share of CPU periods throttled, memory working set / RSS / cache, pids
and OOM kills — what the strategies and the report read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imageforge.errors import Unsupported
from imageforge.runtime import Sample, cpu_cores

__all__ = ["PERCENTILES", "Series", "Usage", "check_readings", "percentile", "usage_of"]

PERCENTILES = (50, 90, 95, 99, 100)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, linearly interpolated between the
    closest ranks (numpy's default); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Series:
    """One measure over time: ``points`` are (seconds, value), oldest first."""

    name: str
    unit: str
    points: tuple[tuple[float, float], ...]

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points]

    def percentiles(self) -> dict[str, float]:
        values = self.values
        return {f"p{p}" if p < 100 else "max": percentile(values, p) for p in PERCENTILES}

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "percentiles": self.percentiles(), "points": len(self.points)}


@dataclass(frozen=True)
class Usage:
    """What a container used over one or more runs of the load."""

    cpu: Series
    throttled: Series
    working_set: Series
    rss: Series
    cache: Series
    pids: Series
    oom_kills: int = 0
    memory_at_oom: int | None = None
    writable_layer: int | None = None
    runs: int = 1

    @property
    def all(self) -> tuple[Series, ...]:
        return (self.cpu, self.throttled, self.working_set, self.rss, self.cache, self.pids)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "samples": len(self.working_set.points),
            "oom_kills": self.oom_kills,
            "writable_layer_bytes": self.writable_layer,
            **{s.name: s.to_json() for s in self.all},
        }


def _gauge(samples: Sequence[Sample], attr: str) -> list[tuple[float, float]]:
    out = []
    for s in samples:
        value = getattr(s.stats, attr)
        if value is not None:
            out.append((s.at, float(value)))
    return out


def _throttled(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    """The share of CFS periods between two samples in which the container was
    throttled (0 without a CPU limit)."""
    out = []
    for a, b in zip(samples, samples[1:], strict=False):
        pa, pb = a.stats.cpu_periods, b.stats.cpu_periods
        ta, tb = a.stats.cpu_throttled_periods, b.stats.cpu_throttled_periods
        if None in (pa, pb, ta, tb):
            continue
        assert pa is not None and pb is not None and ta is not None and tb is not None
        periods = pb - pa
        out.append((b.at, (tb - ta) / periods if periods > 0 else 0.0))
    return out


def usage_of(
    runs: Sequence[Sequence[Sample]],
    *,
    windows: Sequence[tuple[float, float]] | None = None,
    writable_layer: int | None = None,
) -> Usage:
    """The usage in the samples of each run (each list oldest first), keeping those its
    window in ``windows`` (seconds from the start of its sampling) contains. OOM kills
    count over the whole run: one during warm-up matters as much."""
    cpu: list[tuple[float, float]] = []
    throttled: list[tuple[float, float]] = []
    gauges: dict[str, list[tuple[float, float]]] = {
        a: [] for a in ("memory_working_set", "memory_rss", "memory_cache", "pids_current")
    }
    ooms = 0
    at_oom: int | None = None
    count = 0
    for i, samples in enumerate(runs):
        count += 1
        kills = [s.stats.oom_kills for s in samples if s.stats.oom_kills is not None]
        if kills and kills[-1] > 0:
            ooms += kills[-1]
            limits = [s.stats.memory_limit for s in samples if s.stats.memory_limit]
            peaks = [s.stats.memory_peak or s.stats.memory_usage or 0 for s in samples]
            at_oom = max(at_oom or 0, limits[-1] if limits else max(peaks, default=0))
        kept = samples
        if windows is not None:
            low, high = windows[i]
            kept = [s for s in samples if low <= s.at <= high]
        cpu.extend(cpu_cores(kept))
        throttled.extend(_throttled(kept))
        for attr, points in gauges.items():
            points.extend(_gauge(kept, attr))
    return Usage(
        cpu=Series("cpu", "cores", tuple(cpu)),
        throttled=Series("throttled", "share of periods", tuple(throttled)),
        working_set=Series("working_set", "bytes", tuple(gauges["memory_working_set"])),
        rss=Series("rss", "bytes", tuple(gauges["memory_rss"])),
        cache=Series("cache", "bytes", tuple(gauges["memory_cache"])),
        pids=Series("pids", "processes", tuple(gauges["pids_current"])),
        oom_kills=ooms,
        memory_at_oom=at_oom,
        writable_layer=writable_layer,
        runs=count,
    )


# What each measure needs, as the kernel names the v1 controller (v2: the same names in
# cgroup.controllers, cpuacct's figures in cpu.stat).
_NEEDED = (("cpu_usage_ns", "cpuacct (CPU time)"), ("memory_working_set", "memory"))


def check_readings(samples: Sequence[Sample]) -> None:
    """Refuse samples that cannot make a recommendation: none at all (a rootless run,
    whose runtime makes no cgroup, or a runtime that keeps none), or none with CPU time
    or memory (a host without that cgroup controller)."""
    if not samples:
        raise Unsupported(
            "no cgroup readings of the container: tune reads its cgroup, which only a "
            "run as root under runc makes",
            hint="run imageforge tune as root (runc; crun removes the cgroup at once)",
        )
    missing = [
        name for attr, name in _NEEDED if all(getattr(s.stats, attr) is None for s in samples)
    ]
    if missing:
        raise Unsupported(
            f"this host's cgroups say nothing of the container's {' or '.join(missing)}: "
            "the controller is not mounted or not enabled",
            hint="enable it (cgroup_enable= on the kernel command line, or mount its "
            "cgroup v1 hierarchy; on v2 add it to the parent's cgroup.subtree_control)",
        )
