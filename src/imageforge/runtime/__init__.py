"""Run a process in a rootfs: OCI runtime spec, runc/crun driver, mounts, host probes.

Used by build (RUN steps), run and tune: :func:`run_container` runs one process in a
rootfs with its network, mounts, seccomp choice and stdio (a build's RUN and
``imageforge run`` both go through it; :func:`run_image` first unpacks an image into
snapshots). :class:`Snapshotter` is the seam of unpacked layers and overlay mounts
(:class:`OverlaySnapshotter`, made for a store by :func:`store_snapshotter`).
``check_system`` is what ``imageforge system check`` reports; ``select_runtime`` picks the
runtime a build uses; :func:`check_foreign_exec` says whether another architecture's
binaries run here (natively or through a binfmt_misc handler such as qemu-user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imageforge._lazy import lazy_names

if TYPE_CHECKING:
    from imageforge.runtime._binfmt import (
        BINFMT_DIR,
        BinfmtHandler,
        binfmt_handlers,
        check_foreign_exec,
        needs_emulation,
    )
    from imageforge.runtime._busybox import find_static_busybox, is_static_elf
    from imageforge.runtime._capabilities import ALL_CAPABILITIES, DEFAULT_CAPABILITIES
    from imageforge.runtime._cgroups import (
        CgroupReader,
        CgroupStats,
        CgroupV1,
        CgroupV2,
        container_cgroup,
    )
    from imageforge.runtime._check import PEER_TOOLS, check_system
    from imageforge.runtime._chroot import ChrootRuntime
    from imageforge.runtime._container import image_process
    from imageforge.runtime._control import ContainerControl, ContainerGroup
    from imageforge.runtime._etc import etc_mounts
    from imageforge.runtime._limits import (
        Limits,
        Ulimit,
        format_ram,
        host_cpus,
        parse_limits,
        parse_ram,
        parse_ulimit,
    )
    from imageforge.runtime._model import (
        NETWORK_MODES,
        ExitStatus,
        Mount,
        Process,
        Runtime,
        StdIO,
    )
    from imageforge.runtime._mount import MNT_DETACH, mount, umount
    from imageforge.runtime._oci import KNOWN_RUNTIMES, OciRuntime, find_runtime
    from imageforge.runtime._ports import PortMapping, parse_publish
    from imageforge.runtime._probes import (
        check_binfmt,
        check_cgroups,
        check_disk,
        check_overlayfs,
        check_root,
        check_tool,
        check_userns,
    )
    from imageforge.runtime._report import CheckItem, SystemReport
    from imageforge.runtime._rootless_check import check_rootless
    from imageforge.runtime._run import (
        ContainerOptions,
        ImageCommand,
        mount_points,
        run_container,
        run_image,
    )
    from imageforge.runtime._sampler import CgroupSampler, Sample, cpu_cores
    from imageforge.runtime._security import Security, parse_security_options
    from imageforge.runtime._select import (
        check_runtime,
        default_probe_cache,
        forget_runtime_probe,
        select_runtime,
    )
    from imageforge.runtime._snapshots import (
        ActiveSnapshot,
        OverlaySnapshotter,
        Snapshot,
        Snapshotter,
        store_snapshotter,
    )
    from imageforge.runtime._spec import DEFAULT_PATH, build_spec
    from imageforge.runtime._tmpfs import parse_tmpfs
    from imageforge.runtime._user import resolve_user
    from imageforge.runtime._userns import (
        IdRange,
        RootlessPlan,
        enter_user_namespace,
        in_user_namespace,
        rootless_plan,
        subordinate_ranges,
    )

__all__ = [
    "ALL_CAPABILITIES",
    "DEFAULT_CAPABILITIES",
    "CgroupReader",
    "CgroupStats",
    "CgroupV1",
    "CgroupV2",
    "container_cgroup",
    "Ulimit",
    "format_ram",
    "host_cpus",
    "parse_limits",
    "parse_ram",
    "parse_ulimit",
    "parse_tmpfs",
    "CgroupSampler",
    "Sample",
    "cpu_cores",
    "BINFMT_DIR",
    "BinfmtHandler",
    "binfmt_handlers",
    "check_foreign_exec",
    "needs_emulation",
    "DEFAULT_PATH",
    "NETWORK_MODES",
    "PortMapping",
    "Security",
    "parse_publish",
    "parse_security_options",
    "ActiveSnapshot",
    "ChrootRuntime",
    "ContainerControl",
    "ContainerGroup",
    "ContainerOptions",
    "ImageCommand",
    "OverlaySnapshotter",
    "Snapshot",
    "Snapshotter",
    "mount_points",
    "run_container",
    "run_image",
    "store_snapshotter",
    "KNOWN_RUNTIMES",
    "MNT_DETACH",
    "PEER_TOOLS",
    "CheckItem",
    "IdRange",
    "RootlessPlan",
    "ExitStatus",
    "Limits",
    "Mount",
    "OciRuntime",
    "Process",
    "Runtime",
    "StdIO",
    "SystemReport",
    "build_spec",
    "check_binfmt",
    "check_cgroups",
    "check_disk",
    "check_overlayfs",
    "check_root",
    "check_rootless",
    "check_runtime",
    "check_system",
    "check_tool",
    "check_userns",
    "enter_user_namespace",
    "etc_mounts",
    "find_runtime",
    "find_static_busybox",
    "image_process",
    "in_user_namespace",
    "is_static_elf",
    "mount",
    "resolve_user",
    "default_probe_cache",
    "forget_runtime_probe",
    "rootless_plan",
    "umount",
    "select_runtime",
    "subordinate_ranges",
]

_WHERE = {
    "BINFMT_DIR": "_binfmt",
    "BinfmtHandler": "_binfmt",
    "binfmt_handlers": "_binfmt",
    "check_foreign_exec": "_binfmt",
    "needs_emulation": "_binfmt",
    "find_static_busybox": "_busybox",
    "is_static_elf": "_busybox",
    "ALL_CAPABILITIES": "_capabilities",
    "DEFAULT_CAPABILITIES": "_capabilities",
    "CgroupReader": "_cgroups",
    "CgroupStats": "_cgroups",
    "CgroupV1": "_cgroups",
    "CgroupV2": "_cgroups",
    "container_cgroup": "_cgroups",
    "PEER_TOOLS": "_check",
    "check_system": "_check",
    "ChrootRuntime": "_chroot",
    "image_process": "_container",
    "ContainerControl": "_control",
    "ContainerGroup": "_control",
    "etc_mounts": "_etc",
    "Limits": "_limits",
    "Ulimit": "_limits",
    "format_ram": "_limits",
    "host_cpus": "_limits",
    "parse_limits": "_limits",
    "parse_ram": "_limits",
    "parse_ulimit": "_limits",
    "NETWORK_MODES": "_model",
    "ExitStatus": "_model",
    "Mount": "_model",
    "Process": "_model",
    "Runtime": "_model",
    "StdIO": "_model",
    "MNT_DETACH": "_mount",
    "mount": "_mount",
    "umount": "_mount",
    "KNOWN_RUNTIMES": "_oci",
    "OciRuntime": "_oci",
    "find_runtime": "_oci",
    "PortMapping": "_ports",
    "parse_publish": "_ports",
    "check_binfmt": "_probes",
    "check_cgroups": "_probes",
    "check_disk": "_probes",
    "check_overlayfs": "_probes",
    "check_root": "_probes",
    "check_tool": "_probes",
    "check_userns": "_probes",
    "CheckItem": "_report",
    "SystemReport": "_report",
    "check_rootless": "_rootless_check",
    "ContainerOptions": "_run",
    "ImageCommand": "_run",
    "mount_points": "_run",
    "run_container": "_run",
    "run_image": "_run",
    "CgroupSampler": "_sampler",
    "Sample": "_sampler",
    "cpu_cores": "_sampler",
    "Security": "_security",
    "parse_security_options": "_security",
    "check_runtime": "_select",
    "default_probe_cache": "_select",
    "forget_runtime_probe": "_select",
    "select_runtime": "_select",
    "ActiveSnapshot": "_snapshots",
    "OverlaySnapshotter": "_snapshots",
    "Snapshot": "_snapshots",
    "Snapshotter": "_snapshots",
    "store_snapshotter": "_snapshots",
    "DEFAULT_PATH": "_spec",
    "build_spec": "_spec",
    "parse_tmpfs": "_tmpfs",
    "resolve_user": "_user",
    "IdRange": "_userns",
    "RootlessPlan": "_userns",
    "enter_user_namespace": "_userns",
    "in_user_namespace": "_userns",
    "rootless_plan": "_userns",
    "subordinate_ranges": "_userns",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
