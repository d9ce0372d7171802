"""Writes the OCI runtime spec (config.json) for one process.

The defaults follow what Docker and podman produce for an unprivileged container: its
own pid/ipc/uts/mount/cgroup (and, unless ``network="host"``, network) namespaces, the
standard /proc, /dev, /sys mounts, the Docker default capability set, Docker's masked
and read-only kernel paths, a seccomp filter (see ``_seccomp``), no new privileges.

/sys is a fresh read-only sysfs (it shows the container's network namespace), never
the host's /sys: under it, /sys/fs/cgroup is a read-only cgroup mount inside a cgroup
namespace, so the container sees its own cgroup as the root and can move itself
nowhere. Only where a fresh sysfs cannot be mounted (rootless with the host's network,
whose namespace the user namespace does not own) is the host's /sys bind-mounted, and
then read-only recursively (``rro``: every submount too), with the cgroup mount over it.

Resource limits (``_limits.Limits``) fill ``linux.resources`` and ``process.rlimits``;
the default rlimits are clamped to this host's hard limits, because a process without
CAP_SYS_RESOURCE cannot raise them (see MACHINE-NOTES: hard nofile 20000). The cgroup is
named (``cgroupsPath``, relative: under the runtime's own cgroup) so that it can be read
back (``_cgroups``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imageforge.runtime._capabilities import DEFAULT_CAPABILITIES
from imageforge.runtime._limits import Limits
from imageforge.runtime._model import NETWORK_MODES, Mount, Process

__all__ = ["DEFAULT_PATH", "build_spec"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_MASKED = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
_READONLY = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    # The cgroup mount's own flags reach only the controllers' mounts under it (cgroup
    # v1); this makes the tmpfs holding them read-only too, as in Docker.
    "/sys/fs/cgroup",
)


def _sys_mounts(bind_host_sys: bool) -> list[dict[str, Any]]:
    sys_mount: dict[str, Any] = {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    }
    if bind_host_sys:
        sys_mount = {
            "destination": "/sys",
            "type": "bind",
            "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "rro"],
        }
    cgroup = {
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
    }
    return [sys_mount, cgroup]


def _default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
    ]


def build_spec(
    rootfs: Path,
    process: Process,
    *,
    mounts: Sequence[Mount] = (),
    limits: Limits | None = None,
    network: str = "none",
    netns_path: str | None = None,
    hostname: str = "imageforge",
    readonly_rootfs: bool = False,
    seccomp: Mapping[str, Any] | None = None,
    bind_host_sys: bool = False,
    capabilities: Sequence[str] = DEFAULT_CAPABILITIES,
    cgroups_path: str | None = None,
) -> dict[str, Any]:
    """Return the config.json content for running ``process`` in ``rootfs``.

    ``network`` is ``none`` (a new namespace with only loopback), ``private`` (join the
    namespace at ``netns_path``, which slirp4netns serves) or ``host``. ``seccomp`` is
    the ``linux.seccomp`` section, None for no filter. ``bind_host_sys`` bind-mounts the
    host's /sys (recursively read-only) where a fresh sysfs cannot be mounted.
    ``capabilities`` is the process's set; ``cgroups_path`` names its cgroup."""
    if network not in NETWORK_MODES:
        raise ValueError(f"network must be one of {NETWORK_MODES}, not {network!r}")
    if (network == "private") != (netns_path is not None):
        raise ValueError("a netns_path goes with network='private' and only with it")
    env = dict(process.env)
    env.setdefault("PATH", DEFAULT_PATH)
    caps = list(capabilities)
    limits = limits or Limits()
    namespaces: list[dict[str, str]] = [
        {"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")
    ]
    if network == "none":
        namespaces.append({"type": "network"})
    elif netns_path is not None:
        namespaces.append({"type": "network", "path": netns_path})
    spec_mounts = _default_mounts() + _sys_mounts(bind_host_sys)
    for m in mounts:
        spec_mounts.append(
            {
                "destination": m.destination,
                "type": m.type,
                "source": m.source,
                "options": list(m.options),
            }
        )
    resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    resources.update(limits.resources())
    linux: dict[str, Any] = {
        "resources": resources,
        "namespaces": namespaces,
        "maskedPaths": list(_MASKED),
        "readonlyPaths": list(_READONLY),
    }
    if seccomp is not None:
        linux["seccomp"] = dict(seccomp)
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {
                "uid": process.uid,
                "gid": process.gid,
                "additionalGids": list(process.additional_gids),
            },
            "args": list(process.args),
            "env": [f"{k}={v}" for k, v in env.items()],
            "cwd": process.cwd,
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": limits.rlimits(),
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs.resolve()), "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": spec_mounts,
        "linux": linux,
    }
