"""Resource limits of one container, as Docker names and parses them: ``--memory``,
``--memory-reservation``, ``--memory-swap``, ``--cpus``, ``--cpu-shares``,
``--cpuset-cpus``, ``--pids-limit``, ``--ulimit``.

:class:`Limits` is the one value a run and a build's RUN steps carry; it turns into the
OCI runtime spec's ``linux.resources`` (runc writes cgroup v1 files or translates to
cgroup v2 ones) and ``process.rlimits``. It is checked when made, with Docker's rules
(memory at least 6 MiB, swap total not below memory, at most as many CPUs as this host
has) and this host's: a hard rlimit above the host's cannot be set, because no process
here holds CAP_SYS_RESOURCE (see MACHINE-NOTES).

Memory sizes are Docker's (go-units ``RAMInBytes``): ``b``, ``k``, ``m``, ``g``, ``t``,
``p`` are powers of 1024, case-insensitive, with an optional ``i`` and ``b`` (``256m`` =
``256MiB`` = ``256mb`` = 268435456 bytes). That is not ``analyze.parse_size``, whose
``MB`` is 10**6 as dive's (go-humanize) is: the same text means what the tool a user
copies it from means.
"""

from __future__ import annotations

import os
import re
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from imageforge.errors import InvalidArgument

__all__ = [
    "CPU_PERIOD_US",
    "MIN_MEMORY",
    "Limits",
    "Ulimit",
    "format_ram",
    "host_cpus",
    "parse_cpus",
    "parse_limits",
    "parse_ram",
    "parse_ulimit",
]

MIN_MEMORY: Final = 6 * 1024 * 1024  # Docker's linuxMinMemory
CPU_PERIOD_US: Final = 100_000  # Docker's period for --cpus
_NANO: Final = 1_000_000_000
_MIN_SHARES, _MAX_SHARES = 2, 262_144  # what the kernel accepts for cpu.shares
_RAM: Final = re.compile(r"^(\d+(?:\.\d+)?) ?([bkmgtp])?i?b?$", re.IGNORECASE)
_RAM_UNITS: Final = {u: 1024**i for i, u in enumerate("bkmgtp")}
_CPUSET: Final = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")

# Docker's --ulimit names (go-units), in the order of the kernel's resource numbers
# (asm-generic/resource.h; Python's ``resource`` lacks some of them, e.g. RLIMIT_LOCKS).
_ULIMITS: Final[dict[str, int]] = {
    name: number
    for number, name in enumerate(
        "cpu fsize data stack core rss nproc nofile memlock as locks sigpending msgqueue "
        "nice rtprio rttime".split()
    )
}
# Every container gets these unless --ulimit says otherwise (Docker's and podman's
# defaults), clamped to this host's hard limits.
_DEFAULT_ULIMITS: Final = (("nofile", 1024, 1_048_576), ("nproc", 4096, 4096))


def parse_ram(text: str, *, option: str = "--memory") -> int:
    """Bytes in a Docker memory size: ``256m``, ``1.5g``, ``512MiB``, ``1048576``."""
    m = _RAM.match(text.strip())
    if m is None:
        raise InvalidArgument(
            f"{option} {text!r} is not a size",
            hint="a number of bytes, or with a unit b, k, m, g (powers of 1024): 256m, 1.5g",
        )
    return int(Fraction(m.group(1)) * _RAM_UNITS[(m.group(2) or "b").lower()])


def format_ram(n: int) -> str:
    """``n`` bytes in powers of 1024, as a limit is said back: ``256 MiB``, ``1.5 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.4g} {unit}"
        value /= 1024
    return f"{value:.4g} TiB"


def host_cpus() -> int:
    """The CPUs this process may run on (a cpuset narrows ``os.cpu_count()``)."""
    return len(os.sched_getaffinity(0))


def parse_cpus(text: str) -> int:
    """``--cpus 0.5`` as nano-CPUs (Docker's NanoCPUs: at most 9 decimals)."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise InvalidArgument(f"--cpus {text!r} is not a number", hint="e.g. --cpus 0.5") from None
    nano = value * _NANO
    if nano.denominator != 1:
        raise InvalidArgument(f"--cpus {text!r} has more than 9 decimals")
    return int(nano)


@dataclass(frozen=True)
class Ulimit:
    """One ``--ulimit name=soft[:hard]``; -1 is unlimited."""

    name: str
    soft: int
    hard: int

    def __post_init__(self) -> None:
        if self.name not in _ULIMITS:
            raise InvalidArgument(
                f"--ulimit {self.name}: no such limit",
                hint="one of " + ", ".join(sorted(_ULIMITS)),
            )
        if _raw(self.soft) > _raw(self.hard):
            raise InvalidArgument(
                f"--ulimit {self.name}={self.soft}:{self.hard}: "
                "the soft limit is above the hard limit"
            )
        _, host_hard = resource.getrlimit(_ULIMITS[self.name])
        if host_hard != resource.RLIM_INFINITY and _raw(self.hard) > host_hard:
            raise InvalidArgument(
                f"--ulimit {self.name}={self.soft}:{self.hard}: the hard limit is above "
                f"this host's ({host_hard}), which no container started here can raise",
                hint=f"ask for at most {self.name}={min(self.soft, host_hard)}:{host_hard}"
                " (imageforge does not hold CAP_SYS_RESOURCE here)",
            )

    def rlimit(self) -> dict[str, Any]:
        """The OCI spec's ``process.rlimits`` entry."""
        return {
            "type": f"RLIMIT_{self.name.upper()}",
            "soft": _raw(self.soft),
            "hard": _raw(self.hard),
        }


def _raw(value: int) -> int:
    return resource.RLIM_INFINITY if value < 0 else value


def parse_ulimit(text: str) -> Ulimit:
    """Docker's ``--ulimit name=soft[:hard]`` (``hard`` defaults to ``soft``)."""
    name, sep, values = text.partition("=")
    soft_text, _, hard_text = values.partition(":")
    try:
        if not sep or ":" in hard_text:
            raise ValueError
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise InvalidArgument(
            f"--ulimit {text!r}: expected NAME=SOFT[:HARD]", hint="e.g. --ulimit nofile=1024:2048"
        ) from None
    return Ulimit(name.strip().lower(), soft, hard)


def _cpu_list(spec: str) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


@dataclass(frozen=True)
class Limits:
    """The resource limits of one container; None is "no limit of our own".

    ``memory`` and ``memory_reservation`` in bytes; ``memory_swap`` Docker's total of
    memory and swap (-1: unlimited swap; None: as Docker, twice ``memory`` where the
    host accounts swap);
    ``nano_cpus`` CPUs in billionths (``--cpus 0.5`` is 500000000), enforced as a CFS
    quota per 100 ms; ``cpuset_cpus`` as the kernel writes a CPU list (``0-1,3``)."""

    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    nano_cpus: int | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    pids: int | None = None
    ulimits: tuple[Ulimit, ...] = ()

    def __post_init__(self) -> None:
        self._check_memory()
        self._check_cpu()
        if self.pids is not None and self.pids <= 0:
            raise InvalidArgument(
                f"--pids-limit {self.pids}: not a limit", hint="give a positive number of processes"
            )
        names = [u.name for u in self.ulimits]
        if len(set(names)) != len(names):
            raise InvalidArgument("--ulimit: a limit is given twice", hint=", ".join(names))

    def _check_memory(self) -> None:
        memory = self.memory
        if memory is not None and memory < MIN_MEMORY:
            raise InvalidArgument(
                f"--memory {format_ram(memory)} is below the minimum of 6 MiB",
                hint="Docker refuses less too: the runtime itself needs some; give e.g. 64m",
            )
        reservation = self.memory_reservation
        if reservation is not None and reservation < MIN_MEMORY:
            raise InvalidArgument(
                f"--memory-reservation {format_ram(reservation)} is below the minimum of 6 MiB"
            )
        if memory is not None and reservation is not None and reservation > memory:
            raise InvalidArgument(
                f"--memory-reservation {format_ram(reservation)} is above --memory "
                f"{format_ram(memory)}",
                hint="the reservation is a soft limit under the hard one",
            )
        swap = self.memory_swap
        if swap is None:
            return
        if memory is None:
            raise InvalidArgument(
                "--memory-swap needs --memory",
                hint="--memory-swap is the total of memory and swap (-1: unlimited swap)",
            )
        if swap != -1 and swap < memory:
            raise InvalidArgument(
                f"--memory-swap {format_ram(swap)} is below --memory {format_ram(memory)}",
                hint="--memory-swap is the total of memory and swap: at least --memory "
                "(equal: no swap), or -1 for unlimited swap",
            )

    def _check_cpu(self) -> None:
        cpus = host_cpus()
        if self.nano_cpus is not None and not _NANO // 100 <= self.nano_cpus <= cpus * _NANO:
            raise InvalidArgument(
                f"--cpus {self.nano_cpus / _NANO:g}: the range is 0.01 to {cpus}.00, "
                f"as this host has {cpus} CPU(s)"
            )
        shares = self.cpu_shares
        if shares is not None and not _MIN_SHARES <= shares <= _MAX_SHARES:
            raise InvalidArgument(
                f"--cpu-shares {shares}: the kernel takes {_MIN_SHARES} to {_MAX_SHARES}",
                hint="1024 is one CPU's default weight",
            )
        if self.cpuset_cpus is not None:
            if not _CPUSET.match(self.cpuset_cpus):
                raise InvalidArgument(
                    f"--cpuset-cpus {self.cpuset_cpus!r} is not a CPU list",
                    hint="e.g. 0-1 or 0,2",
                )
            available = os.sched_getaffinity(0)
            missing = sorted(_cpu_list(self.cpuset_cpus) - available)
            if missing:
                raise InvalidArgument(
                    f"--cpuset-cpus {self.cpuset_cpus}: CPU {missing[0]} is not available",
                    hint="this host has CPUs " + ",".join(map(str, sorted(available))),
                )

    @property
    def cpus(self) -> float | None:
        return None if self.nano_cpus is None else self.nano_cpus / _NANO

    def resources(self) -> dict[str, Any]:
        """The OCI spec's ``linux.resources`` sections these limits fill (``memory``,
        ``cpu``, ``pids``); runc translates them for cgroup v2."""
        out: dict[str, Any] = {}
        memory: dict[str, int] = {}
        if self.memory is not None:
            memory["limit"] = self.memory
            if self.memory_swap is not None:
                memory["swap"] = self.memory_swap
            elif _swap_accounting():  # Docker's default: as much swap as memory
                memory["swap"] = 2 * self.memory
        if self.memory_reservation is not None:
            memory["reservation"] = self.memory_reservation
        if memory:
            out["memory"] = memory
        cpu: dict[str, Any] = {}
        if self.nano_cpus is not None:
            cpu["quota"] = self.nano_cpus * CPU_PERIOD_US // _NANO
            cpu["period"] = CPU_PERIOD_US
        if self.cpu_shares is not None:
            cpu["shares"] = self.cpu_shares
        if self.cpuset_cpus is not None:
            cpu["cpus"] = self.cpuset_cpus
        if cpu:
            out["cpu"] = cpu
        if self.pids is not None:
            out["pids"] = {"limit": self.pids}
        return out

    def controllers(self) -> set[str]:
        """The cgroup controllers these limits need."""
        resources = self.resources()
        out: set[str] = {name for name in ("memory", "pids") if name in resources}
        cpu = resources.get("cpu", {})
        if "quota" in cpu or "shares" in cpu:
            out.add("cpu")
        if "cpus" in cpu:
            out.add("cpuset")
        return out

    def rlimits(self) -> list[dict[str, Any]]:
        """The OCI spec's ``process.rlimits``: the defaults (clamped to this host's hard
        limits) with each ``--ulimit`` in place of its default."""
        given = {u.name: u for u in self.ulimits}
        out = []
        for name, soft, hard in _DEFAULT_ULIMITS:
            if name not in given:
                _, host_hard = resource.getrlimit(_ULIMITS[name])
                if host_hard != resource.RLIM_INFINITY:
                    hard = min(hard, host_hard)
                out.append(Ulimit(name, min(soft, hard), hard).rlimit())
        out.extend(u.rlimit() for u in self.ulimits)
        return out


def _swap_accounting() -> bool:
    """Whether this host's cgroups can limit swap (v1 needs ``memory.memsw.*``, which
    some kernels leave out; v2 always can). Docker sets no swap limit without it."""
    root = Path("/sys/fs/cgroup")
    return (root / "cgroup.controllers").exists() or (
        root / "memory" / "memory.memsw.limit_in_bytes"
    ).exists()


def _optional(text: str | None, parse: Any) -> Any:
    return None if text is None or text == "" else parse(text)


def _int(option: str) -> Any:
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise InvalidArgument(f"{option} {text!r} is not a whole number") from None

    return parse


def parse_limits(
    *,
    memory: str | None = None,
    memory_reservation: str | None = None,
    memory_swap: str | None = None,
    cpus: str | None = None,
    cpu_shares: str | None = None,
    cpuset_cpus: str | None = None,
    pids_limit: str | None = None,
    ulimits: Iterable[str] = (),
) -> Limits:
    """:class:`Limits` from Docker's flags as typed (None: not given). ``--memory-swap
    -1`` is unlimited swap; ``--pids-limit`` 0 or -1 is no limit, as Docker has it."""
    pids = _optional(pids_limit, _int("--pids-limit"))
    swap = None
    if memory_swap is not None and memory_swap.strip() == "-1":
        swap = -1
    elif memory_swap:
        swap = parse_ram(memory_swap, option="--memory-swap")
    return Limits(
        memory=_optional(memory, parse_ram),
        memory_reservation=_optional(
            memory_reservation, lambda t: parse_ram(t, option="--memory-reservation")
        ),
        memory_swap=swap,
        nano_cpus=_optional(cpus, parse_cpus),
        cpu_shares=_optional(cpu_shares, _int("--cpu-shares")),
        cpuset_cpus=_optional(cpuset_cpus, str.strip),
        pids=None if pids is None or pids in (0, -1) else pids,
        ulimits=tuple(parse_ulimit(u) for u in ulimits),
    )
