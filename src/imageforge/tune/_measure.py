"""One measured run: the image's container started (private network, published ports:
``runtime.run_image``, as ``imageforge run`` starts it) in a thread, the load run beside
it once it answers, its cgroup sampled several times a second, and the container
stopped and removed at the end however the run ends (the load failing, the container
exiting, Ctrl-C)."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from imageforge.errors import ImageforgeError, InvalidArgument, StepFailed, Unavailable
from imageforge.oci import Image
from imageforge.runtime import (
    ContainerControl,
    ContainerOptions,
    ExitStatus,
    ImageCommand,
    Limits,
    PortMapping,
    Runtime,
    Sample,
    StdIO,
    run_image,
)
from imageforge.store import Store
from imageforge.tune._load import CommandLoad, HttpLoad, LoadResult
from imageforge.tune._runtimes import detect_runtimes

__all__ = ["Measured", "MeasureOptions", "load_env", "measure"]

_TAIL = 20
_SETTLE = 1.0


@dataclass(frozen=True)
class MeasureOptions:
    """How to measure: the load, ``warmup`` seconds of it left out of the figures, then
    ``duration`` seconds measured; ``interval`` between cgroup samples (None: no
    sampling, for measuring what sampling costs); ``ready_timeout`` seconds for the
    service to answer."""

    load: CommandLoad | HttpLoad
    duration: float = 30.0
    warmup: float = 5.0
    publish: Sequence[PortMapping] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    interval: float | None = 0.2
    ready_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.warmup < 0:
            raise InvalidArgument(
                "--duration must be positive and --warmup not negative",
                hint="e.g. --duration 30s --warmup 5s",
            )


@dataclass(frozen=True)
class Measured:
    """One run: the samples (seconds from the container's start), the window the
    figures cover, the load's own result, the writable layer's size at the end, and
    how the container ended."""

    samples: tuple[Sample, ...]
    window: tuple[float, float]
    load: LoadResult
    writable_layer: int | None
    status: ExitStatus
    runtimes: frozenset[str]


def load_env(publish: Sequence[PortMapping], seconds: float) -> dict[str, str]:
    """What a load command is told: where the container listens (its first published
    port on this host; ``IMAGEFORGE_TUNE_PORT_<container port>`` for each) and for how
    long to run."""
    env = {"IMAGEFORGE_TUNE_HOST": "127.0.0.1", "IMAGEFORGE_TUNE_SECONDS": f"{seconds:g}"}
    for i, p in enumerate(publish):
        host = "127.0.0.1" if p.host_ip == "0.0.0.0" else p.host_ip
        env[f"IMAGEFORGE_TUNE_PORT_{p.container_port}"] = str(p.host_port)
        if i == 0:
            env["IMAGEFORGE_TUNE_HOST"] = host
            env["IMAGEFORGE_TUNE_PORT"] = str(p.host_port)
            env["IMAGEFORGE_TUNE_URL"] = f"http://{host}:{p.host_port}/"
    return env


def _listening(port: PortMapping) -> bool:
    """Whether something in the container accepts on ``port``: slirp4netns accepts on
    the host at once and closes the connection when the container refuses, so a
    connection that stays open for a moment is a listener."""
    host = "127.0.0.1" if port.host_ip == "0.0.0.0" else port.host_ip
    try:
        with socket.create_connection((host, port.host_port), timeout=1.0) as s:
            s.settimeout(0.3)
            return s.recv(1, socket.MSG_PEEK) != b""
    except TimeoutError:
        return True  # open, and quiet: a server waiting for a request
    except OSError:
        return False


def _probed(options: MeasureOptions) -> bool:
    return isinstance(options.load, HttpLoad) or any(p.protocol == "tcp" for p in options.publish)


def _ready(options: MeasureOptions) -> bool:
    if isinstance(options.load, HttpLoad):
        return options.load.ready()
    tcp = [p for p in options.publish if p.protocol == "tcp"]
    return all(_listening(p) for p in tcp)


def _layer_size(upper: Path | None) -> int | None:
    """Bytes on disk under the writable layer (what the kubelet counts as ephemeral
    storage)."""
    if upper is None or not upper.is_dir():
        return None
    total = 0
    for dirpath, _, files in os.walk(upper):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _tail(out: IO[bytes]) -> tuple[str, ...]:
    out.flush()
    out.seek(0)
    return tuple(out.read().decode(errors="replace").splitlines()[-_TAIL:])


class _Container:
    """The container in its thread."""

    def __init__(
        self, store: Store, image: Image, options: ContainerOptions, runtime: Runtime | None
    ) -> None:
        self.control = options.control
        self.status: ExitStatus | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.status = run_image(store, image, ImageCommand(), options, runtime=runtime)
            except BaseException as exc:  # noqa: BLE001 - given to the caller's thread
                self.error = exc

        self.thread = threading.Thread(target=target, name="imageforge-tune-container")
        self.thread.start()

    def ended(self) -> bool:
        return not self.thread.is_alive()


def _exited(container: _Container, out: IO[bytes], when: str) -> ImageforgeError:
    container.thread.join()
    if container.error is not None:
        if isinstance(container.error, ImageforgeError):
            return container.error
        raise container.error
    status = container.status
    assert status is not None
    why = status.runtime_error or status.killed() or f"exit code {status.code}"
    return StepFailed(
        f"the container exited {when} ({why})",
        exit_code=status.code,
        output=_tail(out),
        hint="tune measures a service that keeps running while the load runs: check the "
        "image's command (its output is above)",
    )


def measure(
    store: Store,
    image: Image,
    options: MeasureOptions,
    *,
    limits: Limits | None = None,
    runtime: Runtime | None = None,
) -> Measured:
    """Run the image under the load once (see the module's doc)."""
    control = ContainerControl()
    seconds = options.warmup + options.duration
    with tempfile.TemporaryFile(prefix="imageforge-tune-out-") as out:
        container = _Container(
            store,
            image,
            ContainerOptions(
                publish=options.publish,
                limits=limits or Limits(),
                io=StdIO(stdout=out, stderr=out),
                sample_interval=options.interval,
                control=control,
            ),
            runtime,
        )
        try:
            while not control.wait_started(0.1):
                if container.ended():
                    raise _exited(container, out, "before it started")
            deadline = time.monotonic() + options.ready_timeout
            alive = True
            while alive and not _ready(options):
                alive = _alive(container, out, "at once, before it answered")
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"the container did not answer within {options.ready_timeout:g}s",
                        hint="publish the port it listens on (-p HOST:CONTAINER) and point "
                        "--load-http at it, or give it longer (--ready-timeout)",
                    )
                time.sleep(0.1)
            if alive and not _probed(options):
                time.sleep(_SETTLE)  # nothing to ask: give a failing command time to fail
            alive = alive and _alive(container, out, "at once, before the load started")
            found = detect_runtimes(image.config().data.get("config") or {}, control.rootfs)
            start = time.monotonic()
            if not alive:  # OOM-killed: no load to run, and nothing more to measure
                result = LoadResult(
                    "http" if isinstance(options.load, HttpLoad) else "command", 0.0
                )
            elif isinstance(options.load, HttpLoad):
                requests = options.load.run(seconds)
                result = HttpLoad.result(requests, start + options.warmup, time.monotonic())
            else:
                env = {**load_env(options.publish, seconds), **options.env}
                result = options.load.run(env, seconds)
            end = time.monotonic()
            _alive(container, out, "while the load ran")
            layer = _layer_size(control.upper)
        finally:
            control.stop()
            container.thread.join()
        if container.error is not None:
            raise container.error
        assert container.status is not None and control.started_at is not None
        t0 = control.started_at
        return Measured(
            samples=container.status.samples,
            window=(start - t0 + options.warmup, end - t0),
            load=result,
            writable_layer=layer,
            status=container.status,
            runtimes=found,
        )


def _alive(container: _Container, out: IO[bytes], when: str) -> bool:
    """Whether the container still runs; False when the OOM killer ended it (a finding:
    the limits were too low), an error when it ended otherwise."""
    if container.control is not None and container.control.running():
        return True
    container.thread.join()
    if container.status is not None and container.status.oom_killed:
        return False
    raise _exited(container, out, when)
