"""Value types of the runtime seam: what to run, with which mounts and limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from imageforge.runtime._cgroups import CgroupStats
from imageforge.runtime._control import ContainerControl
from imageforge.runtime._limits import Limits, format_ram
from imageforge.runtime._ports import PortMapping
from imageforge.runtime._sampler import Sample
from imageforge.runtime._security import Security

__all__ = ["NETWORK_MODES", "ExitStatus", "Mount", "Process", "Runtime", "StdIO"]

# ``private``: a network namespace of its own with outbound access through slirp4netns
# (the default of build and run); ``none``: only a loopback device; ``host``: the host's.
NETWORK_MODES = ("private", "none", "host")


@dataclass(frozen=True)
class Process:
    """The process to start inside the rootfs."""

    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: Sequence[int] = ()


@dataclass(frozen=True)
class Mount:
    """One mount in the container, as the OCI runtime spec describes it."""

    destination: str
    type: str
    source: str
    options: Sequence[str] = ()


@dataclass(frozen=True)
class StdIO:
    """Where the container's standard streams go; None inherits nothing (``/dev/null``)."""

    stdin: IO[bytes] | int | None = None
    stdout: IO[bytes] | int | None = None
    stderr: IO[bytes] | int | None = None


@dataclass(frozen=True)
class ExitStatus:
    """How a run ended. ``runtime_error`` is set when the runtime itself failed to start
    the process (bad spec, cgroup trouble), as opposed to the process exiting non-zero.
    ``cgroup`` is the container's cgroup as it was when the process ended (None where
    the runtime removes it at once, or it cannot be read); ``samples`` the readings of
    it taken while the process ran, when they were asked for."""

    code: int
    runtime_error: str | None = None
    cgroup: CgroupStats | None = None
    samples: tuple[Sample, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.runtime_error is None

    @property
    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of the container (its cgroup
        counted an OOM kill), as opposed to a plain SIGKILL."""
        return bool(self.cgroup and self.cgroup.oom_kills)

    def killed(self) -> str | None:
        """``killed: out of memory (limit 256 MiB)`` when the OOM killer struck."""
        if not self.oom_killed:
            return None
        assert self.cgroup is not None
        limit = self.cgroup.memory_limit
        return "killed: out of memory" + (f" (limit {format_ram(limit)})" if limit else "")


class Runtime(Protocol):
    """Runs one process in a rootfs to completion (runc, crun)."""

    @property
    def name(self) -> str: ...

    def run(
        self,
        rootfs: Path,
        process: Process,
        *,
        mounts: Sequence[Mount] = (),
        limits: Limits | None = None,
        io: StdIO | None = None,
        network: str = "none",
        hostname: str = "imageforge",
        publish: Sequence[PortMapping] = (),
        security: Security | None = None,
        sample_interval: float | None = None,
        control: ContainerControl | None = None,
    ) -> ExitStatus: ...
