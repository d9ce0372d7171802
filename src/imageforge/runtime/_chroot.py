"""The runtime of ``build --isolation none`` (Kaniko's way): a RUN step's process is a
child of imageforge chrooted into the build's one root directory, with the image's
environment, working directory and user. No namespace, no cgroup, no mount: nothing an
unprivileged container (uid 0, no added capabilities, default seccomp) cannot do. The
container imageforge runs in is the only isolation, so it runs one build.

Mounts cannot be made, so a mount whose source is a file (``/etc/hosts``,
``resolv.conf``, ``hostname``, a secret, a heredoc script) is placed as a copy for the
length of the run: an image's own file at that path is renamed aside and renamed back
afterwards (its inode and times unchanged, so the Differ sees no change), and what was
placed is removed with any directory made for it. A mount of a directory (cache, bind,
tmpfs) is refused: placing it would mean copying it in and out of the layer's tree.

The network is the container's own: ``none`` cannot be given without a network
namespace and is refused, as are published ports. Processes the step left running in
the root (a daemon it started) are killed when it ends, so none changes the root while
it is being compared.

Hand-written: no library starts a process in a chroot with a dropped-to user.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import signal
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from imageforge.errors import Unsupported
from imageforge.layers import resolve_in_root
from imageforge.runtime._control import ContainerControl
from imageforge.runtime._limits import Limits
from imageforge.runtime._model import ExitStatus, Mount, Process, StdIO
from imageforge.runtime._ports import PortMapping
from imageforge.runtime._report import CheckItem
from imageforge.runtime._security import Security

__all__ = ["ChrootRuntime", "check_isolation", "processes_in_root"]

_PR_SET_PDEATHSIG = 1
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}


def _entrypoint(root: str, process: Process) -> Callable[[], None]:
    """What the child does between fork and exec: die with imageforge, enter the root,
    drop to the step's user (groups, then gid, then uid: the order that still may)."""

    def enter() -> None:
        with contextlib.suppress(OSError, AttributeError):
            import ctypes  # noqa: PLC0415 - only in the child, after fork

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        os.chroot(root)
        os.chdir(process.cwd or "/")
        os.setgroups(list(process.additional_gids) or [process.gid])
        os.setgid(process.gid)
        os.setuid(process.uid)

    return enter


def processes_in_root(root: Path) -> list[int]:
    """The processes whose root directory is ``root`` (seen through ``/proc``)."""
    try:
        want = os.stat(root)
    except OSError:
        return []
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            st = os.stat(f"/proc/{pid}/root")
            if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
                found.append(int(pid))
    return found


def _kill_leftovers(root: Path) -> None:
    for _ in range(5):
        pids = processes_in_root(root)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


class _Placed:
    """Files placed in the root for one run, and how to take each back out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.undo: list[Callable[[], None]] = []

    def _parents(self, path: str) -> Path:
        """The directory ``path`` goes in, made (and noted for removal) where missing."""
        parts = [p for p in path.strip("/").split("/") if p]
        current = "/"
        for part in parts[:-1]:
            current = os.path.join(current, part)
            target = resolve_in_root(self.root, current)
            if not os.path.lexists(target):
                target.mkdir(mode=0o755)
                self.undo.append(functools.partial(_rmdir_if_empty, target))
        return resolve_in_root(self.root, os.path.dirname("/" + "/".join(parts)))

    def file(self, destination: str, source: Path) -> None:
        parent = self._parents(destination)
        target = parent / os.path.basename(destination.rstrip("/"))
        if os.path.lexists(target):
            if os.path.isdir(target) and not os.path.islink(target):
                raise Unsupported(
                    f"cannot place {source.name} at {destination}: the image has a directory there"
                )
            aside = parent / f".imageforge-aside-{uuid.uuid4().hex[:8]}"
            os.rename(target, aside)  # same inode, same times: no change once back
            self.undo.append(lambda: os.rename(aside, target))
        shutil.copyfile(source, target, follow_symlinks=False)
        os.chmod(target, stat.S_IMODE(os.stat(source).st_mode))
        self.undo.append(lambda: os.unlink(target))

    def devices(self) -> None:
        """``/dev/null`` and its kin where the image has a ``/dev`` without them and
        this process may make device nodes (real root may; a container without
        CAP_MKNOD may not, and its steps then see no such files). ``dev`` is never
        compared, so they are no change either way."""
        dev = self.root / "dev"
        if os.path.islink(dev) or not dev.is_dir():
            return
        for name, (major, minor) in _DEVICES.items():
            path = dev / name
            if os.path.lexists(path):
                continue
            try:
                os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
                os.chmod(path, 0o666)
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.EACCES):
                    return
                raise
            self.undo.append(functools.partial(os.unlink, path))

    def take_back(self) -> None:
        for undo in reversed(self.undo):
            with contextlib.suppress(FileNotFoundError):
                undo()
        self.undo.clear()


def _rmdir_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


@contextlib.contextmanager
def _placed(root: Path, mounts: Sequence[Mount]) -> Iterator[None]:
    placed = _Placed(root)
    try:
        for m in mounts:
            source = Path(m.source)
            if m.type != "bind" or not source.is_file():
                raise Unsupported(
                    f"--isolation none cannot mount {m.destination} ({m.type}"
                    f"{' of a directory' if m.type == 'bind' else ''}): it makes no mounts",
                    hint="drop the RUN --mount (secrets work), or build with the default "
                    "isolation where mounts can be made",
                )
            if m.destination == "/etc/resolv.conf" and os.path.isfile("/etc/resolv.conf"):
                source = Path("/etc/resolv.conf")  # the network is the container's own
            placed.file(m.destination, source)
        placed.devices()
        yield
    finally:
        placed.take_back()


class ChrootRuntime:
    """The :class:`Runtime` of ``--isolation none``: a chrooted child process."""

    name = "chroot"

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
        # nothing here can enforce limits or security options (the build refuses them
        # before it starts), nor sample a cgroup it does not make
        del limits, hostname, security, sample_interval
        if network == "none":
            raise Unsupported(
                "--isolation none cannot cut a RUN off the network: that takes a network "
                "namespace, which an unprivileged container cannot make",
                hint="drop --network none / RUN --network=none, or build with the default "
                "isolation",
            )
        if publish:
            raise Unsupported("--isolation none cannot publish ports")
        io = io or StdIO()
        root = rootfs.absolute()
        with _placed(root, mounts):
            try:
                proc = subprocess.Popen(
                    list(process.args),
                    env=dict(process.env),
                    stdin=io.stdin if io.stdin is not None else subprocess.DEVNULL,
                    stdout=io.stdout if io.stdout is not None else subprocess.DEVNULL,
                    stderr=io.stderr if io.stderr is not None else subprocess.DEVNULL,
                    preexec_fn=_entrypoint(str(root), process),  # noqa: PLW1509 - chroot first
                    close_fds=True,
                )
            except OSError as exc:  # exec failed inside the root
                return ExitStatus(127, f"{process.args[0]}: {exc.strerror} in the build root")
            except subprocess.SubprocessError as exc:  # chroot or the user switch failed
                raise Unsupported(
                    f"cannot enter the build root {root} as uid {process.uid}: {exc}",
                    hint="--isolation none needs uid 0 with CAP_SYS_CHROOT, CAP_SETUID and "
                    "CAP_SETGID (a container's defaults)",
                ) from exc
            if control is not None:
                control.attach(lambda name: proc.send_signal(getattr(signal, f"SIG{name}")))
            try:
                code = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                if control is not None:
                    control.ended()
                _kill_leftovers(root)
        return ExitStatus(128 - code if code < 0 else code)


def _can_chroot() -> str | None:
    """None when a child of this process can chroot and drop to another user, else why
    not."""

    def enter() -> None:
        os.chroot("/")
        os.setgid(65534)
        os.setuid(65534)

    try:
        subprocess.run(
            ["/bin/true"],
            preexec_fn=enter,
            check=True,
            capture_output=True,  # noqa: PLW1509
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None


def check_isolation(items: Sequence[CheckItem]) -> CheckItem:
    """Which way builds can run here: containers (a runtime over overlayfs, as root or in a
    user namespace), else ``--isolation none`` when this process is uid 0 and may chroot."""
    by_name = {it.name: it for it in items}

    def ok(name: str) -> bool:
        return name in by_name and by_name[name].ok

    runtime = any(ok(n) for n in by_name if n.startswith("runtime."))
    containers = runtime and ok("overlayfs") and (os.geteuid() == 0 or ok("rootless"))
    if containers:
        return CheckItem("isolation", True, "builds run RUN steps in containers (oci)")
    why = _can_chroot() if os.geteuid() == 0 else f"this process runs as uid {os.geteuid()}"
    if why is None:
        return CheckItem(
            "isolation",
            True,
            "no container can be made here (no working runtime over overlayfs, no user "
            "namespace): build with --isolation none (one plain root, RUN chrooted)",
            "imageforge build --isolation none ...; one build per container",
            {"suggested": "none"},
        )
    return CheckItem(
        "isolation",
        False,
        f"no container can be made here, and --isolation none cannot run either: {why}",
        "run as uid 0 (a container's root needs no added capability), or where "
        "overlayfs and a runtime work",
        {"suggested": None},
    )
