"""One container run, the same for a build's ``RUN`` and for ``imageforge run``.

:func:`run_container` starts a process in a rootfs that is already there (a build step's
snapshot) with the container's ``/etc/hosts``, ``resolv.conf`` and ``hostname`` written
for its network, the caller's mounts, the network (``private``, ``none``, ``host``;
ports published into a private one), the seccomp choice and the standard streams.
:func:`run_image` is the same for an image: its layers unpacked into the store's
snapshots, a fresh snapshot over them, the image's process (Entrypoint + Cmd, Env,
WorkingDir, User, with overrides), removed when the process exits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imageforge.errors import InvalidArgument
from imageforge.oci import Image
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime._binfmt import check_foreign_exec
from imageforge.runtime._container import image_process
from imageforge.runtime._control import ContainerControl
from imageforge.runtime._etc import etc_mounts
from imageforge.runtime._limits import Limits
from imageforge.runtime._model import NETWORK_MODES, ExitStatus, Mount, Process, Runtime, StdIO
from imageforge.runtime._ports import PortMapping
from imageforge.runtime._security import Security
from imageforge.runtime._select import default_probe_cache, select_runtime
from imageforge.runtime._snapshots import Snapshotter, store_snapshotter
from imageforge.store import Store

__all__ = ["ContainerOptions", "ImageCommand", "mount_points", "run_container", "run_image"]

# What the runtime mounts over every rootfs besides the caller's mounts (see ``_spec``
# and :func:`etc_mounts`).
_RUNTIME_PATHS = (
    "proc",
    "sys",
    "dev",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/hostname",
    "etc",
)


@dataclass(frozen=True)
class ContainerOptions:
    """How a container is set up around its process. ``network``: ``private`` (a
    namespace of its own, outbound through slirp4netns), ``none`` or ``host``;
    ``publish`` forwards host ports into a private one; ``security`` is the seccomp
    choice (the default profile unless it says otherwise), capabilities and read-only
    rootfs; ``limits`` the resource limits; ``io`` the standard streams (``/dev/null``
    when not given); ``sample_interval`` samples the container's cgroup that often
    (seconds) while it runs, into the exit status's ``samples``; ``control`` lets
    another thread see the container start and stop it (``tune`` runs a load beside
    it)."""

    mounts: Sequence[Mount] = ()
    network: str = "private"
    hostname: str = "imageforge"
    publish: Sequence[PortMapping] = ()
    security: Security = field(default_factory=Security)
    limits: Limits = field(default_factory=Limits)
    io: StdIO | None = None
    sample_interval: float | None = None
    control: ContainerControl | None = None

    def __post_init__(self) -> None:
        if self.network not in NETWORK_MODES:
            raise InvalidArgument(
                f"network {self.network!r} is not one of {', '.join(NETWORK_MODES)}"
            )
        if self.publish and self.network != "private":
            raise InvalidArgument(
                f"--publish needs the private network, not --network {self.network}",
                hint="drop --network (private is the default)"
                + (
                    "; with --network host the container's ports are the host's already"
                    if self.network == "host"
                    else ""
                ),
            )


@dataclass(frozen=True)
class ImageCommand:
    """What to run in an image: ``args`` in place of its Cmd (its Entrypoint stays),
    ``env`` over its Env, ``user`` in place of its User."""

    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None


def mount_points(mounts: Sequence[Mount]) -> list[str]:
    """The paths (relative to the rootfs) :func:`run_container` mounts something over
    when it is given ``mounts``: the runtime's own and each mount's destination, with
    their parents, deepest first. A runtime creates a missing one as an empty stand-in,
    which is no change the process made."""
    points: set[str] = set(_RUNTIME_PATHS)
    for m in mounts:  # each mount point and the parents the runtime makes
        parts = [p for p in m.destination.split("/") if p]
        points.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(points, key=lambda p: (-p.count("/"), p))


def run_container(
    runtime: Runtime, rootfs: Path, process: Process, options: ContainerOptions
) -> ExitStatus:
    """Run ``process`` in ``rootfs`` to its end (see :class:`ContainerOptions`)."""
    with tempfile.TemporaryDirectory(prefix="imageforge-run-") as tmp:
        mounts = etc_mounts(Path(tmp), options.hostname, options.network)
        mounts.extend(options.mounts)
        return runtime.run(
            rootfs,
            process,
            mounts=mounts,
            limits=options.limits,
            io=options.io,
            network=options.network,
            hostname=options.hostname,
            publish=options.publish,
            security=options.security,
            sample_interval=options.sample_interval,
            control=options.control,
        )


def run_image(
    store: Store,
    image: Image,
    command: ImageCommand,
    options: ContainerOptions,
    *,
    runtime: Runtime | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> ExitStatus:
    """Run ``command`` in a new container of ``image`` (its layers unpacked into the
    store's snapshots) and remove the container when it exits. ``runtime``: the one
    :func:`select_runtime` picks when not given. An image of another architecture runs
    through its binfmt_misc handler (qemu-user); with none, Unsupported says so before
    anything is unpacked."""
    check_foreign_exec(image.config().platform)
    snapshots: Snapshotter = store_snapshotter(store)
    with store.writing():
        parents = snapshots.ensure(image.layers())
        runtime = runtime or select_runtime(progress=progress, cache=default_probe_cache())
        with snapshots.prepare(parents) as snapshot:
            if options.control is not None:
                options.control.upper = snapshot.upper
                options.control.rootfs = snapshot.merged
            config = dict(image.config().data.get("config") or {})
            process = image_process(
                config,
                snapshot.merged,
                command=command.args,
                env=command.env,
                user=command.user,
            )
            return run_container(runtime, snapshot.merged, process, options)
