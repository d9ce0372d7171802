"""``--cap-add`` / ``--cap-drop``: the capability set of a container's process, worked
out as Docker does (``TweakCapabilities``): ``--cap-add ALL`` is every capability but the
dropped ones, ``--cap-drop ALL`` keeps only the added ones, else the default set less the
dropped plus the added. Names are case-insensitive, with or without ``CAP_``.

A container cannot have a capability its runtime lacks: one missing from this process's
bounding set (CAP_SYS_RESOURCE on these hosts, see MACHINE-NOTES) is refused by name when
asked for, and left out of ``ALL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from imageforge.errors import InvalidArgument

__all__ = ["ALL_CAPABILITIES", "DEFAULT_CAPABILITIES", "bounding_set", "container_capabilities"]

# Docker's and buildah's default set.
DEFAULT_CAPABILITIES: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# linux/capability.h, in bit order (bit n is ALL_CAPABILITIES[n]).
ALL_CAPABILITIES: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


def bounding_set(status: Path = Path("/proc/self/status")) -> frozenset[str]:
    """The capabilities this process can pass on (``CapBnd``)."""
    for line in status.read_text().splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return frozenset(c for i, c in enumerate(ALL_CAPABILITIES) if mask >> i & 1)
    return frozenset(ALL_CAPABILITIES)  # pragma: no cover - every Linux has the line


def _names(values: Iterable[str], option: str) -> list[str]:
    out = []
    for value in values:
        name = value.strip().upper()
        if name == "ALL":
            out.append(name)
            continue
        name = name if name.startswith("CAP_") else f"CAP_{name}"
        if name not in ALL_CAPABILITIES:
            raise InvalidArgument(
                f"{option} {value}: no such capability",
                hint="a name from capabilities(7) such as NET_ADMIN or CHOWN, or ALL",
            )
        out.append(name)
    return out


def container_capabilities(
    add: Iterable[str] = (), drop: Iterable[str] = (), *, bounding: frozenset[str] | None = None
) -> tuple[str, ...]:
    """The process's capabilities for ``--cap-add add`` and ``--cap-drop drop``."""
    adds, drops = _names(add, "--cap-add"), _names(drop, "--cap-drop")
    held = bounding if bounding is not None else bounding_set()
    for name in adds:
        if name != "ALL" and name not in held:
            raise InvalidArgument(
                f"--cap-add {name.removeprefix('CAP_')}: imageforge itself does not hold it "
                "on this host, so no container it starts can",
                hint="run imageforge with the capability in its bounding set",
            )
    caps: Sequence[str]
    if "ALL" in adds:
        caps = [c for c in ALL_CAPABILITIES if c in held and c not in drops]
    elif "ALL" in drops:
        caps = [c for c in ALL_CAPABILITIES if c in adds]
    else:
        caps = [c for c in DEFAULT_CAPABILITIES if c not in drops]
        caps += [c for c in ALL_CAPABILITIES if c in adds and c not in caps]
    return tuple(caps)
