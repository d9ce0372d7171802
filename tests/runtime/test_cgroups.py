"""Reading a container's cgroup back. The v2 reader runs on recorded cgroup2 files
(``data/cgroup2``, in the formats of the kernel's cgroup-v2 documentation): these
machines are hybrid, so it has not run on a real v2 host. The v1 reader runs for real in
test_limits_enforced."""

from __future__ import annotations

from pathlib import Path

from imageforge.runtime import (
    CgroupStats,
    CgroupV1,
    CgroupV2,
    ExitStatus,
    container_cgroup,
    parse_limits,
)
from imageforge.runtime._cgroups import missing_controllers

DATA = Path(__file__).parent / "data" / "cgroup2"
OOM = "imageforge-0123456789abcdef"
PLAIN = "imageforge-fedcba9876543210"


def _v2(name: str) -> CgroupStats:
    reader = container_cgroup(
        name, root=DATA / "sys/fs/cgroup", proc_cgroup=DATA / "proc-self-cgroup"
    )
    assert isinstance(reader, CgroupV2)
    assert reader.directory == DATA / "sys/fs/cgroup/user.slice/session-1.scope" / name
    return reader.stats()


def test_v2_an_oom_killed_container_reads_as_such() -> None:
    stats = _v2(OOM)
    assert stats.oom_kills == 1
    assert stats.memory_limit == 256 << 20
    assert stats.memory_peak == 256 << 20
    assert stats.memory_usage == 4096
    assert stats.memory_rss == 2457600  # anon
    assert stats.memory_cache == 1171456  # file
    assert stats.memory_working_set == 0  # usage less inactive_file, never below 0
    assert stats.cpu_usage_ns == 1_526_538_000
    assert (stats.cpu_periods, stats.cpu_throttled_periods) == (31, 17)
    assert stats.cpu_throttled_ns == 200_712_000
    assert (stats.pids_current, stats.pids_refused) == (0, 4)
    status = ExitStatus(137, cgroup=stats)
    assert status.oom_killed
    assert status.killed() == "killed: out of memory (limit 256 MiB)"


def test_v2_no_limit_and_an_older_kernel_s_missing_files() -> None:
    stats = _v2(PLAIN)
    assert stats.oom_kills == 0
    assert stats.memory_limit is None  # "max"
    assert stats.memory_peak is None  # no memory.peak before Linux 5.19
    assert stats.memory_working_set == 1183744
    assert stats.cpu_usage_ns == 30_222_000
    assert stats.cpu_throttled_periods is None  # no cpu controller enabled: no such keys
    assert not ExitStatus(137, cgroup=stats).oom_killed  # a plain SIGKILL


def test_a_cgroup_that_is_gone_reads_as_unknown(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("memory\n")
    (tmp_path / "proc").write_text("0::/\n")
    stats = container_cgroup("gone", root=tmp_path, proc_cgroup=tmp_path / "proc").stats()
    assert stats == CgroupStats()
    assert ExitStatus(137, cgroup=stats).killed() is None


def test_this_hybrid_host_reads_the_v1_controllers() -> None:
    reader = container_cgroup("imageforge-x")
    assert isinstance(reader, CgroupV1)
    own = {
        line.split(":")[1]: line.split(":", 2)[2]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
    }
    assert reader.dirs["memory"] == Path(
        "/sys/fs/cgroup/memory", own["memory"].lstrip("/"), "imageforge-x"
    )


def test_a_controller_the_host_lacks_is_named(tmp_path: Path) -> None:
    # a v1 host with only memory and cpu mounted, and a v2 one whose parent offers no pids
    (tmp_path / "v1" / "memory").mkdir(parents=True)
    (tmp_path / "v1" / "cpu").mkdir()
    proc = DATA / "proc-self-cgroup"
    assert missing_controllers({"memory", "pids", "cpuset"}, root=tmp_path / "v1") == [
        "cpuset",
        "pids",
    ]
    assert missing_controllers(set(), root=tmp_path / "v1") == []
    v2 = tmp_path / "v2"
    (v2 / "user.slice" / "session-1.scope").mkdir(parents=True)
    (v2 / "cgroup.controllers").write_text("cpu memory pids\n")
    (v2 / "user.slice" / "session-1.scope" / "cgroup.controllers").write_text("cpu memory\n")
    assert missing_controllers({"memory", "pids"}, root=v2, proc_cgroup=proc) == ["pids"]


def test_this_host_has_every_controller_limits_use() -> None:
    limits = parse_limits(memory="64m", cpus="0.5", cpuset_cpus="0", pids_limit="9")
    assert limits.controllers() == {"memory", "cpu", "cpuset", "pids"}
    assert missing_controllers(limits.controllers()) == []
