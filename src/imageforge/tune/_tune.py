"""``tune`` as a library: measure an image under a load (``runs`` times, a fresh
container each), recommend by every strategy, name the runtime flags to set, state the
utilisation against the guide's example, and (``verify``) run the load again under the
recommended limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from imageforge.errors import InvalidArgument
from imageforge.oci import Image
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime import Limits, Runtime, host_cpus
from imageforge.store import Store
from imageforge.tune._load import LoadResult
from imageforge.tune._measure import Measured, MeasureOptions, measure
from imageforge.tune._quantity import MIB, mebibytes, millicores
from imageforge.tune._runtimes import RuntimeHint, runtime_hints
from imageforge.tune._series import Usage, check_readings, usage_of
from imageforge.tune._strategies import STRATEGIES, Recommendation, recommend

__all__ = ["GUIDE_EXAMPLE", "TuneReport", "Verification", "limits_for", "tune", "verify"]

# The guide's 4.2 example: requests 250m / 256Mi, limits 500m / 512Mi.
GUIDE_EXAMPLE: Final = {"cpu_request": 0.25, "memory_request": 256 * MIB}


@dataclass(frozen=True)
class Verification:
    """The load run again under a recommendation's limits, and what was checked."""

    limits: dict[str, Any]
    checks: tuple[tuple[str, bool, str], ...]
    load: LoadResult
    usage: Usage

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "limits": self.limits,
            "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in self.checks],
            "load": self.load.to_json(),
            "usage": self.usage.to_json(),
        }


@dataclass(frozen=True)
class TuneReport:
    image: str
    usage: Usage
    runs: tuple[Measured, ...]
    recommendations: tuple[Recommendation, ...]
    chosen: str
    hints: tuple[RuntimeHint, ...]
    verification: Verification | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def recommendation(self) -> Recommendation:
        return next(r for r in self.recommendations if r.strategy == self.chosen)

    def utilisation(self) -> dict[str, dict[str, float | None]]:
        """Mean use / request, for the guide's example requests and each strategy's."""
        cpu = self.usage.cpu.values
        mem = self.usage.working_set.values
        mean_cpu = sum(cpu) / len(cpu) if cpu else 0.0
        mean_mem = sum(mem) / len(mem) if mem else 0.0

        def share(used: float, requested: float | None) -> float | None:
            return round(used / requested, 4) if requested else None

        out = {
            "guide-example": {
                "cpu": share(mean_cpu, GUIDE_EXAMPLE["cpu_request"]),
                "memory": share(mean_mem, GUIDE_EXAMPLE["memory_request"]),
            }
        }
        for r in self.recommendations:
            out[r.strategy] = {
                "cpu": share(mean_cpu, millicores(r.cpu_request or 0) / 1000),
                "memory": share(mean_mem, r.memory_request),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "settings": self.settings,
            "usage": self.usage.to_json(),
            "load": [m.load.to_json() for m in self.runs],
            "recommendations": [r.to_json() for r in self.recommendations],
            "chosen": self.chosen,
            "resources": self.recommendation.resources(),
            "runtime_hints": [h.to_json() for h in self.hints],
            "utilisation": self.utilisation(),
            "verification": self.verification.to_json() if self.verification else None,
        }


def _usage(runs: Sequence[Measured]) -> Usage:
    layers = [m.writable_layer for m in runs if m.writable_layer is not None]
    return usage_of(
        [m.samples for m in runs],
        windows=[m.window for m in runs],
        writable_layer=max(layers, default=None),
    )


def tune(
    store: Store,
    image: Image,
    options: MeasureOptions,
    *,
    name: str = "",
    runs: int = 1,
    strategies: Sequence[str] = tuple(STRATEGIES),
    chosen: str = "krr-simple",
    runtime: Runtime | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> TuneReport:
    """Measure ``image`` under ``options.load`` ``runs`` times and recommend."""
    if runs < 1:
        raise InvalidArgument("--runs must be at least 1")
    if chosen not in strategies:
        raise InvalidArgument(
            f"--strategy {chosen!r} is not among the strategies run", hint=", ".join(strategies)
        )
    measured = []
    for i in range(runs):
        progress.note(
            f"run {i + 1}/{runs}: {options.warmup:g}s warm-up, {options.duration:g}s measured"
        )
        measured.append(measure(store, image, options, runtime=runtime))
        check_readings(measured[-1].samples)
    usage = _usage(measured)
    recs = tuple(recommend(usage, strategies))
    chosen_rec = next(r for r in recs if r.strategy == chosen)
    config = image.config().data.get("config") or {}
    found = frozenset().union(*(m.runtimes for m in measured))
    hints = runtime_hints(config, found, chosen_rec.memory_limit)
    return TuneReport(
        image=name,
        usage=usage,
        runs=tuple(measured),
        recommendations=recs,
        chosen=chosen,
        hints=tuple(hints),
        settings={
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "runs": runs,
            "interval_s": options.interval,
        },
    )


def limits_for(rec: Recommendation) -> Limits:
    """The recommended limits as a container's: the memory limit as ``--memory``, the
    CPU limit (if the strategy sets one) as ``--cpus``. Requests are not limits: on a
    node they reserve capacity and weigh the CPU share under contention, which a run
    on this host cannot reproduce, so ``verify`` enforces only the limits, as the node
    would."""
    cpus = None
    if rec.cpu_limit is not None:
        cpus = min(max(millicores(rec.cpu_limit), 10), host_cpus() * 1000) * 1_000_000
    return Limits(
        memory=None if rec.memory_limit is None else mebibytes(rec.memory_limit) * MIB,
        nano_cpus=cpus,
    )


def verify(
    store: Store,
    image: Image,
    options: MeasureOptions,
    report: TuneReport,
    *,
    max_throttling: float = 0.1,
    tolerance: float = 0.2,
    latency_slack_ms: float = 5.0,
    runtime: Runtime | None = None,
) -> Verification:
    """Run the load again under the chosen recommendation's limits: no OOM kill, the
    share of throttled CPU periods at most ``max_throttling``, and (built-in generator)
    p95 latency at most ``(1 + tolerance)`` x the unlimited runs' mean +
    ``latency_slack_ms``, throughput at least ``(1 - tolerance)`` x their mean, no
    larger share of failed requests."""
    limits = limits_for(report.recommendation)
    m = measure(store, image, options, limits=limits, runtime=runtime)
    usage = _usage([m])
    checks: list[tuple[str, bool, str]] = [
        ("no OOM kill", usage.oom_kills == 0, f"{usage.oom_kills} OOM kill(s)"),
    ]
    throttled = usage.throttled.values
    share = sum(throttled) / len(throttled) if throttled else 0.0
    checks.append(
        (
            f"throttling at most {max_throttling:.0%}",
            share <= max_throttling,
            f"{share:.1%} of CPU periods throttled"
            + ("" if limits.nano_cpus else " (no CPU limit: nothing throttles it)"),
        )
    )
    bases = [m.load for m in report.runs if m.load.kind == "http"]
    if bases and m.load.kind == "http":
        # the unlimited runs' means: one run of a noisy host is a poor yardstick
        b95 = sum((b.latency_ms or {}).get("p95", 0.0) for b in bases) / len(bases)
        b_tput = sum(b.throughput for b in bases) / len(bases)
        b_err = sum(b.errors for b in bases) / max(sum(b.requests for b in bases), 1)
        v95 = (m.load.latency_ms or {}).get("p95", 0.0)
        bound = b95 * (1 + tolerance) + latency_slack_ms
        checks.append(
            (
                f"p95 latency within {tolerance:.0%} (+{latency_slack_ms:g} ms)",
                v95 <= bound,
                f"{v95:.1f} ms under the limits, {b95:.1f} ms without (bound {bound:.1f} ms)",
            )
        )
        floor = b_tput * (1 - tolerance)
        checks.append(
            (
                f"throughput within {tolerance:.0%}",
                m.load.throughput >= floor,
                f"{m.load.throughput:.1f}/s under the limits, {b_tput:.1f}/s without",
            )
        )
        v_err = m.load.errors / m.load.requests if m.load.requests else 1.0
        checks.append(
            ("no more errors", v_err <= b_err, f"{m.load.errors}/{m.load.requests} failed")
        )
    spec: dict[str, Any] = {
        "memory": None if limits.memory is None else f"{limits.memory // MIB}Mi",
        "cpus": limits.cpus,
    }
    return Verification(spec, tuple(checks), m.load, usage)
