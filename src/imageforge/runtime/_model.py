"""Value types of the runtime seam: what to run, with which mounts and limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from imageforge.runtime._ports import PortMapping
from imageforge.runtime._security import Security

__all__ = ["NETWORK_MODES", "ExitStatus", "Limits", "Mount", "Process", "Runtime", "StdIO"]

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
class Limits:
    """Resource limits; None means "no limit of our own"."""

    memory_bytes: int | None = None
    pids: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int = 100_000


@dataclass(frozen=True)
class StdIO:
    """Where the container's standard streams go; None inherits nothing (``/dev/null``)."""

    stdin: IO[bytes] | int | None = None
    stdout: IO[bytes] | int | None = None
    stderr: IO[bytes] | int | None = None


@dataclass(frozen=True)
class ExitStatus:
    """How a run ended. ``runtime_error`` is set when the runtime itself failed to start
    the process (bad spec, cgroup trouble), as opposed to the process exiting non-zero."""

    code: int
    runtime_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.runtime_error is None


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
    ) -> ExitStatus: ...
