"""The build history summed up (``stats builds``): counts, the failure rate overall,
per cause and per day (UTC), durations and the cache hit ratio of the steps."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imageforge.pipeline._build_history import read_history

__all__ = ["BuildStats", "build_stats"]


@dataclass(frozen=True)
class BuildStats:
    builds: int
    succeeded: int
    failed: int
    causes: dict[str, int]
    durations: dict[str, float]
    steps: int
    cached: int
    days: tuple[dict[str, Any], ...]

    @property
    def failure_rate(self) -> float:
        return self.failed / self.builds if self.builds else 0.0

    @property
    def cache_hit_ratio(self) -> float:
        return self.cached / self.steps if self.steps else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "builds": self.builds,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failureRate": round(self.failure_rate, 4),
            "causes": self.causes,
            "durations": self.durations,
            "steps": self.steps,
            "cachedSteps": self.cached,
            "cacheHitRatio": round(self.cache_hit_ratio, 4),
            "days": list(self.days),
        }


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def build_stats(root: Path, *, days: int | None = None, now: float | None = None) -> BuildStats:
    records = read_history(root)
    if days is not None:
        since = (now if now is not None else time.time()) - days * 86400
        records = [r for r in records if r.started >= since]
    seconds = [r.seconds for r in records]
    failed = [r for r in records if r.outcome == "failed"]
    done = [r for r in records if r.outcome == "succeeded"]
    per_day: dict[str, list[int]] = {}
    for r in records:
        day = datetime.fromtimestamp(r.started, UTC).strftime("%Y-%m-%d")
        counts = per_day.setdefault(day, [0, 0])
        counts[0] += 1
        counts[1] += r.outcome == "failed"
    return BuildStats(
        builds=len(records),
        succeeded=len(done),
        failed=len(failed),
        causes=dict(Counter(r.cause or "unknown" for r in failed).most_common()),
        durations={
            "mean": round(statistics.fmean(seconds), 3) if seconds else 0.0,
            "median": round(statistics.median(seconds), 3) if seconds else 0.0,
            "p90": round(_p90(seconds), 3) if seconds else 0.0,
            "max": round(max(seconds), 3) if seconds else 0.0,
        },
        steps=sum(r.steps for r in done),
        cached=sum(r.cached for r in done),
        days=tuple(
            {
                "day": day,
                "builds": n,
                "failed": f,
                "failureRate": round(f / n, 4),
            }
            for day, (n, f) in sorted(per_day.items())
        ),
    )
