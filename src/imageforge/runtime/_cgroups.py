"""What a container's cgroup says about it: OOM kills, memory, CPU time and throttling,
processes.

The limits themselves go into the runtime spec the same way on every host (runc writes
cgroup v1 files, or translates to cgroup v2 ones); reading back differs. A
:class:`CgroupReader` reads one container's cgroup: :class:`CgroupV1` from the v1
controllers' directories (``memory.oom_control``, ``memory.limit_in_bytes``,
``cpuacct.usage``, ``cpu.stat``, ``pids.events``; also what a hybrid host uses, where
runc puts limits in the v1 controllers), :class:`CgroupV2` from one unified directory
(``memory.events``, ``memory.max``, ``cpu.stat``, ``pids.events``; the formats of the
kernel's Documentation/admin-guide/cgroup-v2.rst). :func:`container_cgroup` picks the one
for this host and the cgroup a runtime makes for a container, given the relative
``cgroupsPath`` the spec names (runc puts a relative path under its own cgroup, in each
hierarchy).

Only v1 (hybrid) runs on these machines; :class:`CgroupV2` is tested on recorded files.
A file that is missing or unreadable (a controller not mounted, an older kernel) gives
None for what it holds, never an error: the container's exit matters more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

__all__ = [
    "CgroupReader",
    "CgroupStats",
    "CgroupV1",
    "CgroupV2",
    "container_cgroup",
    "missing_controllers",
]

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
_UNLIMITED: Final = 1 << 62  # v1 writes "no limit" as the largest page multiple of int64


@dataclass(frozen=True)
class CgroupStats:
    """One reading of a container's cgroup. Bytes, nanoseconds and counts; None where
    the host does not say. ``memory_working_set`` is usage less inactive file pages (what
    the kubelet and cAdvisor call the working set); ``memory_rss`` anonymous memory;
    ``memory_cache`` the page cache; ``pids_refused`` forks refused by ``pids.max``."""

    oom_kills: int | None = None
    memory_limit: int | None = None
    memory_usage: int | None = None
    memory_peak: int | None = None
    memory_working_set: int | None = None
    memory_rss: int | None = None
    memory_cache: int | None = None
    cpu_usage_ns: int | None = None
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None
    cpu_throttled_ns: int | None = None
    pids_current: int | None = None
    pids_refused: int | None = None


class CgroupReader(Protocol):
    """Reads one container's cgroup, as often as asked, while it lives."""

    def stats(self) -> CgroupStats: ...


def _text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file (``key value`` per line), as the kernel's docs call it."""
    out: dict[str, int] = {}
    for line in (_text(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def _number(path: Path) -> int | None:
    text = (_text(path) or "").strip()
    return int(text) if text.isdigit() else None


def _limit(path: Path) -> int | None:
    value = _number(path)
    return None if value is None or value >= _UNLIMITED else value


def _less(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a - b, 0)


class CgroupV1:
    """A container's cgroup on a v1 (or hybrid) host: one directory per controller."""

    def __init__(self, dirs: Mapping[str, Path]) -> None:
        self.dirs = dict(dirs)

    def _file(self, controller: str, name: str) -> Path:
        return self.dirs.get(controller, Path("/nonexistent")) / name

    def stats(self) -> CgroupStats:
        mem = _keyed(self._file("memory", "memory.stat"))
        usage = _number(self._file("memory", "memory.usage_in_bytes"))
        cpu = _keyed(self._file("cpu", "cpu.stat"))
        return CgroupStats(
            oom_kills=_keyed(self._file("memory", "memory.oom_control")).get("oom_kill"),
            memory_limit=_limit(self._file("memory", "memory.limit_in_bytes")),
            memory_usage=usage,
            memory_peak=_number(self._file("memory", "memory.max_usage_in_bytes")),
            memory_working_set=_less(usage, mem.get("total_inactive_file")),
            memory_rss=mem.get("total_rss"),
            memory_cache=mem.get("total_cache"),
            cpu_usage_ns=_number(self._file("cpuacct", "cpuacct.usage")),
            cpu_periods=cpu.get("nr_periods"),
            cpu_throttled_periods=cpu.get("nr_throttled"),
            cpu_throttled_ns=cpu.get("throttled_time"),
            pids_current=_number(self._file("pids", "pids.current")),
            pids_refused=_keyed(self._file("pids", "pids.events")).get("max"),
        )


class CgroupV2:
    """A container's cgroup on a unified (v2) host: one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def stats(self) -> CgroupStats:
        d = self.directory
        mem = _keyed(d / "memory.stat")
        usage = _number(d / "memory.current")
        cpu = _keyed(d / "cpu.stat")

        def usec(key: str) -> int | None:
            return None if key not in cpu else cpu[key] * 1000

        return CgroupStats(
            oom_kills=_keyed(d / "memory.events").get("oom_kill"),
            memory_limit=_limit(d / "memory.max"),  # "max" is no number: None
            memory_usage=usage,
            memory_peak=_number(d / "memory.peak"),
            memory_working_set=_less(usage, mem.get("inactive_file")),
            memory_rss=mem.get("anon"),
            memory_cache=mem.get("file"),
            cpu_usage_ns=usec("usage_usec"),
            cpu_periods=cpu.get("nr_periods"),
            cpu_throttled_periods=cpu.get("nr_throttled"),
            cpu_throttled_ns=usec("throttled_usec"),
            pids_current=_number(d / "pids.current"),
            pids_refused=_keyed(d / "pids.events").get("max"),
        )


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """This process's cgroup per v1 controller, and ``""`` for the unified hierarchy."""
    out: dict[str, str] = {}
    for line in (_text(proc_cgroup) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


def container_cgroup(
    relative: str,
    *,
    root: Path = CGROUP_ROOT,
    proc_cgroup: Path = Path("/proc/self/cgroup"),
) -> CgroupReader:
    """The reader of the cgroup a runtime started by this process makes for a spec whose
    ``cgroupsPath`` is ``relative``: under this process's own cgroup, in each hierarchy
    (``root`` and ``proc_cgroup`` are this host's unless a test gives recorded ones)."""
    own = _own_cgroups(proc_cgroup)
    if (root / "cgroup.controllers").exists():  # the unified hierarchy is the root: v2
        return CgroupV2(root / own.get("", "/").lstrip("/") / relative)
    return CgroupV1(
        {
            name: root / name / own.get(name, "/").lstrip("/") / relative
            for name in ("memory", "cpu", "cpuacct", "pids")
        }
    )


def missing_controllers(
    wanted: Iterable[str],
    *,
    root: Path = CGROUP_ROOT,
    proc_cgroup: Path = Path("/proc/self/cgroup"),
) -> list[str]:
    """Which of the ``wanted`` controllers (``memory``, ``cpu``, ``cpuset``, ``pids``) a
    container started by this process could not get: on v1 a hierarchy that is not
    mounted, on v2 one its parent cgroup does not offer (``cgroup.controllers``)."""
    if (root / "cgroup.controllers").exists():
        own = _own_cgroups(proc_cgroup).get("", "/").lstrip("/")
        offered = set((_text(root / own / "cgroup.controllers") or "").split())
        return sorted(c for c in set(wanted) if c not in offered)
    return sorted(c for c in set(wanted) if not (root / c).is_dir())
