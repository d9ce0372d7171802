"""Driver for OCI runtimes that speak runc's command line (runc, crun).

Each run gets a fresh bundle directory (config.json) and a private state root, so runs
never see each other's containers. The runtime's own failures (bad spec, cgroup
trouble) are read from its JSON log and reported as ``ExitStatus.runtime_error``,
separate from the process's exit code.

With ``network="private"`` the run gets a network namespace of its own, made here
before the runtime starts and served by slirp4netns (see ``_netns`` and ``_slirp``);
both go when the run ends, however it ends.

The container dies with imageforge, even when imageforge is killed with SIGKILL and runs
no code of its own: a container's process outlives the runtime's foreground process
(it is pid 1 of its namespace, reparented when runc dies), so each run has a watchdog, a
``sh`` in a session of its own blocked reading a pipe only imageforge holds open. When
the run ends, imageforge tells it so and it exits; when imageforge dies the pipe closes
and the watchdog kills the container (``runc kill ... KILL``, which takes its whole pid
namespace), deletes it and removes the run's state directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from imageforge.errors import NotFound, Unsupported
from imageforge.runtime._cgroups import CgroupStats, container_cgroup, missing_controllers
from imageforge.runtime._control import ContainerControl
from imageforge.runtime._limits import Limits
from imageforge.runtime._model import ExitStatus, Mount, Process, StdIO
from imageforge.runtime._netns import NetworkNamespace
from imageforge.runtime._ports import PortMapping
from imageforge.runtime._sampler import CgroupSampler, Sample
from imageforge.runtime._seccomp import seccomp_section
from imageforge.runtime._security import Security
from imageforge.runtime._slirp import Slirp
from imageforge.runtime._spec import build_spec
from imageforge.runtime._userns import in_user_namespace


@contextlib.contextmanager
def _forward_signals(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """While the runtime runs in the foreground, SIGTERM and SIGINT sent to imageforge go
    to it, and it passes them to the container's process (runc and crun forward
    signals); the container then exits and its exit status is returned as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


__all__ = ["KNOWN_RUNTIMES", "OciRuntime", "find_runtime"]

# $1 runtime, $2 state root, $3 container id, $4 the run's work directory; stdin the
# pipe imageforge writes "done" to when the run is over (EOF without it: imageforge died).
_WATCHDOG = """
IFS= read -r line
[ "$line" = done ] && exit 0
"$1" --root "$2" kill "$3" KILL
"$1" --root "$2" delete --force "$3"
rm -rf "$4"
"""


@contextlib.contextmanager
def _watchdog(binary: Path, state: Path, cid: str, work: Path) -> Iterator[None]:
    """Kill container ``cid`` if this process dies before the block ends."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", _WATCHDOG, "imageforge-watchdog"]
            + [str(binary), str(state), cid, str(work)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to imageforge's group must not end it first
        )
    finally:
        os.close(read_end)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.write(write_end, b"done\n")
        os.close(write_end)
        proc.wait()


KNOWN_RUNTIMES = ("runc", "crun")
_SIGNAL_PATIENCE = 30.0  # seconds runc may take to create the container it was asked to run


def find_runtime(name: str) -> OciRuntime:
    """The runtime called ``name`` from PATH (also /usr/sbin, where Debian puts runc)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if path is None:
        raise NotFound(
            f"OCI runtime {name!r} is not installed",
            hint=f"install it (Debian: apt-get install {name})",
        )
    return OciRuntime(name, Path(path))


def _log_errors(log: Path) -> str | None:
    """The last error-level message in a runtime's JSON log, if any."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return None
    error: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            error = line
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            error = str(entry.get("msg", line))
    return error


class OciRuntime:
    """A runc-compatible runtime binary."""

    def __init__(self, name: str, binary: Path, *, timeout: float | None = None) -> None:
        self._name = name
        self.binary = binary
        self.timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"OciRuntime({self._name!r}, {str(self.binary)!r})"

    def version(self) -> str:
        """First line of ``<runtime> --version``."""
        out = subprocess.run(
            [str(self.binary), "--version"], capture_output=True, text=True, timeout=30
        )
        return (
            (out.stdout or out.stderr).strip().splitlines()[0] if out.stdout or out.stderr else ""
        )

    def _log_args(self, log: Path) -> list[str]:
        if self._name == "crun":
            return [f"--log=file:{log}", "--log-format=json"]
        return ["--log", str(log), "--log-format", "json"]

    def _keep_args(self) -> list[str]:
        """runc keeps a container it ran (``--keep``) until it is deleted, so that its
        cgroup can be read after its process exits; crun has no such option."""
        return ["--keep"] if self._name == "runc" else []

    def _cgroup(self, cid: str, rootless: bool) -> CgroupStats | None:
        """The container's cgroup at its end, when the runtime kept it (rootless, the
        runtime makes none)."""
        if rootless or not self._keep_args():
            return None
        return container_cgroup(cid).stats()

    def _runc(self, state: Path, *args: str) -> bool:
        """Whether the runtime's command succeeded."""
        done = subprocess.run(
            [str(self.binary), "--root", str(state), *args], capture_output=True, check=False
        )
        return done.returncode == 0

    def _signal(self, state: Path, cid: str, proc: subprocess.Popen[bytes], name: str) -> None:
        """Send signal ``name`` to the container. A stop asked for just after ``runc
        run`` started finds no container yet (runc is still creating it): ask again
        until it is there, while runc runs, for at most ``_SIGNAL_PATIENCE`` seconds."""
        deadline = time.monotonic() + _SIGNAL_PATIENCE
        while not self._runc(state, "kill", cid, name):
            if proc.poll() is not None or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _kill(self, state: Path, cid: str, proc: subprocess.Popen[bytes]) -> None:
        """Stop a container whose caller gave up on it (timeout, an exception)."""
        self._signal(state, cid, proc, "KILL")

    def _delete(self, state: Path, cid: str) -> None:
        """Remove the container, its cgroup with it, however its run ended."""
        self._runc(state, "delete", "--force", cid)

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
    ) -> ExitStatus:
        """Run ``process`` in ``rootfs`` and wait for it. ``publish`` forwards host ports
        into a ``private`` network; ``sample_interval`` samples the container's cgroup
        that often while it runs (see ``_sampler``; not rootless, not under crun);
        ``control`` lets another thread see it start and stop it; a run given one is
        not sent imageforge's SIGINT/SIGTERM but killed when they interrupt it."""
        if publish and network != "private":
            raise ValueError("ports can only be published into a private network")
        rootless = in_user_namespace()
        if rootless and limits is not None and limits.resources():
            raise Unsupported(
                "resource limits (--memory, --cpus, --pids-limit, ...) need cgroups, which "
                "an unprivileged user cannot create here",
                hint="run as root for limits (--ulimit works rootless)",
            )
        missing = missing_controllers(limits.controllers()) if limits is not None else []
        if missing:
            raise Unsupported(
                f"this host has no {', '.join(missing)} cgroup controller, which the "
                "limits asked for need",
                hint="drop those limits, or enable the controller (cgroup_enable= on the "
                "kernel command line, or mount its cgroup v1 hierarchy)",
            )
        security = security or Security()
        capabilities = security.capabilities()
        seccomp = seccomp_section(security.seccomp, capabilities)
        io = io or StdIO()
        with (
            tempfile.TemporaryDirectory(prefix=f"imageforge-{self._name}-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            work = Path(tmp)
            netns_path = None
            if network == "private":
                netns = stack.enter_context(NetworkNamespace())
                slirp = Slirp(netns.path, work, publish)
                stack.callback(slirp.close)  # before the namespace closes (LIFO)
                netns_path = netns.path
            cid = f"imageforge-{uuid.uuid4().hex[:16]}"
            spec = build_spec(
                rootfs,
                process,
                mounts=mounts,
                limits=limits,
                network=network,
                netns_path=netns_path,
                hostname=hostname,
                readonly_rootfs=security.read_only,
                seccomp=seccomp,
                capabilities=capabilities,
                # rootless runc may run without a cgroup of its own only if none is named
                cgroups_path=None if rootless else cid,
                # A fresh sysfs needs a network namespace this user namespace owns.
                bind_host_sys=network == "host" and rootless,
            )
            bundle = work / "bundle"
            state = work / "state"
            bundle.mkdir()
            state.mkdir()
            (bundle / "config.json").write_text(json.dumps(spec))
            log = work / "runtime.log"
            argv = [
                str(self.binary),
                "--root",
                str(state),
                *self._log_args(log),
                "run",
                *self._keep_args(),
                "--bundle",
                str(bundle),
                cid,
            ]
            stack.enter_context(_watchdog(self.binary, state, cid, work))
            stack.callback(self._delete, state, cid)  # while the watchdog still watches
            proc = subprocess.Popen(
                argv,
                stdin=io.stdin if io.stdin is not None else subprocess.DEVNULL,
                stdout=io.stdout if io.stdout is not None else subprocess.DEVNULL,
                stderr=io.stderr if io.stderr is not None else subprocess.DEVNULL,
            )
            sampler = None
            if sample_interval is not None and not rootless and self._keep_args():
                sampler = CgroupSampler(container_cgroup(cid), sample_interval).start()
                stack.callback(sampler.stop)  # however the run ends
            if control is not None:
                stack.callback(control.ended)
                control.attach(lambda name: self._signal(state, cid, proc, name))
            try:
                # A run with a control belongs to a job that stops it (a build): Ctrl-C
                # ends it below. Without one (``run``) signals go to the container.
                with _forward_signals(proc) if control is None else contextlib.nullcontext():
                    proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._kill(state, cid, proc)
                proc.wait()
                return ExitStatus(124, f"timed out after {self.timeout}s")
            except BaseException:
                self._kill(state, cid, proc)
                proc.wait()
                raise
            samples: tuple[Sample, ...] = sampler.stop() if sampler is not None else ()
            return ExitStatus(
                proc.returncode, _log_errors(log), self._cgroup(cid, rootless), samples
            )
