"""Driver for OCI runtimes that speak runc's command line (runc, crun).

Each run gets a fresh bundle directory (config.json) and a private state root, so runs
never see each other's containers. The runtime's own failures (bad spec, cgroup
trouble) are read from its JSON log and reported as ``ExitStatus.runtime_error``,
separate from the process's exit code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from imageforge.errors import NotFound
from imageforge.runtime._model import ExitStatus, Limits, Mount, Process, StdIO
from imageforge.runtime._spec import build_spec

__all__ = ["KNOWN_RUNTIMES", "OciRuntime", "find_runtime"]

KNOWN_RUNTIMES = ("runc", "crun")


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
    ) -> ExitStatus:
        """Run ``process`` in ``rootfs`` and wait for it."""
        spec = build_spec(
            rootfs, process, mounts=mounts, limits=limits, network=network, hostname=hostname
        )
        io = io or StdIO()
        with tempfile.TemporaryDirectory(prefix=f"imageforge-{self._name}-") as tmp:
            work = Path(tmp)
            bundle = work / "bundle"
            state = work / "state"
            bundle.mkdir()
            state.mkdir()
            (bundle / "config.json").write_text(json.dumps(spec))
            log = work / "runtime.log"
            cid = f"imageforge-{uuid.uuid4().hex[:16]}"
            argv = [
                str(self.binary),
                "--root",
                str(state),
                *self._log_args(log),
                "run",
                "--bundle",
                str(bundle),
                cid,
            ]
            try:
                proc = subprocess.run(
                    argv,
                    stdin=io.stdin if io.stdin is not None else subprocess.DEVNULL,
                    stdout=io.stdout if io.stdout is not None else subprocess.DEVNULL,
                    stderr=io.stderr if io.stderr is not None else subprocess.DEVNULL,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                subprocess.run(
                    [str(self.binary), "--root", str(state), "kill", cid, "KILL"],
                    capture_output=True,
                    check=False,
                )
                subprocess.run(
                    [str(self.binary), "--root", str(state), "delete", "--force", cid],
                    capture_output=True,
                    check=False,
                )
                return ExitStatus(124, f"timed out after {self.timeout}s")
            return ExitStatus(proc.returncode, _log_errors(log))
