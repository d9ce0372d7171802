"""Sampling a running container's cgroup several times a second: CPU time and
throttling, memory (usage, working set, RSS, cache), OOM kills, processes, each reading
stamped with the seconds since sampling began. What ``tune`` turns into percentiles over
time; a run asks for it with ``ContainerOptions(sample_interval=...)`` and finds the
samples on its ``ExitStatus``.

A reading is a handful of small reads of cgroup files (no process is started), so the
interval can be short; before the runtime has made the cgroup, a reading says nothing
and is left out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from imageforge.runtime._cgroups import CgroupReader, CgroupStats

__all__ = ["CgroupSampler", "Sample", "cpu_cores"]

_NOTHING = CgroupStats()


@dataclass(frozen=True)
class Sample:
    """One reading of a container's cgroup, ``at`` seconds after sampling began."""

    at: float
    stats: CgroupStats


class CgroupSampler:
    """Reads ``reader`` every ``interval`` seconds in a thread, from :meth:`start` to
    :meth:`stop`, which returns the samples (a last reading included)."""

    def __init__(self, reader: CgroupReader, interval: float = 0.2) -> None:
        if interval <= 0:
            raise ValueError("the sampling interval must be positive")
        self.reader = reader
        self.interval = interval
        self._samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cgroup-sampler", daemon=True)
        self._started = 0.0

    def _read(self) -> None:
        stats = self.reader.stats()
        if stats != _NOTHING:
            self._samples.append(Sample(time.monotonic() - self._started, stats))

    def _run(self) -> None:
        deadline = time.monotonic()
        while True:
            self._read()
            deadline += self.interval
            if self._stop.wait(max(deadline - time.monotonic(), 0)):
                return

    def start(self) -> CgroupSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> tuple[Sample, ...]:
        """Stop sampling; the samples so far, oldest first."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self._read()
        return tuple(self._samples)


def cpu_cores(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    """CPU use between consecutive samples, in cores (1.0: one CPU busy all the time),
    stamped with the later sample's time."""
    out = []
    for a, b in zip(samples, samples[1:], strict=False):
        used_a, used_b = a.stats.cpu_usage_ns, b.stats.cpu_usage_ns
        if used_a is not None and used_b is not None and b.at > a.at:
            out.append((b.at, (used_b - used_a) / 1e9 / (b.at - a.at)))
    return out
