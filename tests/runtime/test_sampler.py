"""Sampling a running container's cgroup several times a second (what ``tune`` reads),
on a real container in runc: CPU time and throttling, memory, processes over time."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.runtime import (
    CgroupSampler,
    CgroupStats,
    ContainerOptions,
    Process,
    Sample,
    StdIO,
    cpu_cores,
    find_runtime,
    parse_limits,
    run_container,
)
from tests.builder.conftest import _busybox_rootfs
from tests.conftest import need_binary, requires_root

MB = 1_000_000


@requires_root
@pytest.mark.slow
def test_a_running_container_is_sampled_several_times_a_second(tmp_path: Path) -> None:
    need_binary("runc")
    rootfs = tmp_path / "rootfs"
    _busybox_rootfs(rootfs)
    # a CPU burst (under a fifth of a CPU, which even a busy host gives it), then 50 MB
    # held in a shell variable for a second
    script = (
        'timeout 1 sh -c "while :; do :; done"; '
        "x=$(head -c 50000000 /dev/zero | tr '\\0' a); sleep 1; echo ${#x}"
    )
    out = tmp_path / "out"
    with out.open("wb") as f:
        status = run_container(
            find_runtime("runc"),
            rootfs,
            Process(args=["/bin/sh", "-c", script]),
            ContainerOptions(
                network="none",
                io=StdIO(stdout=f, stderr=f),
                limits=parse_limits(cpus="0.2", memory="256m"),
                sample_interval=0.1,
            ),
        )
    assert status.ok and out.read_text().split()[-1] == "50000000"  # after "Terminated"
    samples = status.samples
    span = samples[-1].at - samples[0].at
    assert span > 1.5 and len(samples) >= 5 * span  # several a second on a busy host
    assert [s.at for s in samples] == sorted(s.at for s in samples)
    assert all(s.stats.cpu_usage_ns is not None for s in samples)
    used = [s.stats.cpu_usage_ns or 0 for s in samples]
    assert used == sorted(used)  # cumulative
    throttled = [s.stats.cpu_throttled_periods or 0 for s in samples]
    assert throttled[-1] > throttled[0]  # throttled while it burnt
    rates = cpu_cores(samples)
    assert len(rates) == len(samples) - 1 and all(cores >= 0 for _, cores in rates)
    # one 100 ms window may straddle two CFS periods' quotas: only the whole run is bounded
    assert (used[-1] - used[0]) / 1e9 / span < 0.3
    held = max(s.stats.memory_usage or 0 for s in samples)
    assert 50 * MB < held < 256 << 20
    assert max(s.stats.memory_rss or 0 for s in samples) > 50 * MB  # anonymous: the variable
    assert all(s.stats.memory_limit == 256 << 20 for s in samples)
    assert max(s.stats.pids_current or 0 for s in samples) >= 2  # sh and its child
    assert all(s.stats.oom_kills == 0 for s in samples)


class _Counting:
    """A reader whose readings count up, to check the sampler's own bookkeeping."""

    def __init__(self) -> None:
        self.reads = 0

    def stats(self) -> CgroupStats:
        self.reads += 1
        return CgroupStats(cpu_usage_ns=self.reads * 100_000_000)


def test_cpu_cores_is_usage_over_time_between_samples() -> None:
    samples = [
        Sample(0.0, CgroupStats(cpu_usage_ns=0)),
        Sample(0.5, CgroupStats(cpu_usage_ns=250_000_000)),
        Sample(1.0, CgroupStats()),  # the cgroup said nothing this time
        Sample(1.5, CgroupStats(cpu_usage_ns=1_250_000_000)),
    ]
    assert cpu_cores(samples) == [(0.5, 0.5)]


def test_the_sampler_stops_and_keeps_its_samples() -> None:
    reader = _Counting()
    sampler = CgroupSampler(reader, interval=0.01).start()
    samples = sampler.stop()
    assert samples and samples == sampler.stop()  # stopping twice changes nothing
    with pytest.raises(ValueError, match="must be positive"):
        CgroupSampler(reader, interval=0)
