"""A RUN step's command: its argv (heredocs as BuildKit runs them), the container it runs
in (``runtime.run_container``), its output streamed to the progress sink with the last
lines kept, and the error a failure becomes.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from imageforge.builder._config import command_args
from imageforge.dockerfile import Heredoc, Run
from imageforge.errors import Location, StepFailed
from imageforge.progress import ProgressSink
from imageforge.runtime import (
    ContainerOptions,
    ExitStatus,
    Mount,
    Process,
    Runtime,
    StdIO,
    resolve_user,
    run_container,
)

__all__ = ["SCRIPT_PATH", "RunCommand", "RunResult", "run_argv", "run_command"]

SCRIPT_PATH = "/dev/.imageforge-heredoc"  # under the runtime's /dev tmpfs: never in a layer
_ONLY_HEREDOC = re.compile(r"<<-?([\'\"]?)(?P<name>[^\'\"\s]+)\1")
_TAIL = 20  # lines of output kept for the error
_SHOWN = 10  # of which the error message shows


def _chomped(doc: Heredoc) -> str:
    if not doc.chomp:
        return doc.content
    return "".join(line.lstrip("\t") for line in doc.content.splitlines(keepends=True))


def run_argv(instr: Run, shell: Sequence[str]) -> tuple[list[str], str | None]:
    """RUN's argv, and the script to mount when it is a lone heredoc with a ``#!`` line.
    As BuildKit: ``RUN <<EOF`` runs the heredoc as the script (a file if it starts with
    ``#!``); any other heredoc use hands the whole text to the shell, which reads it."""
    args = list(instr.args)
    if not instr.heredocs or instr.exec_form:
        return command_args(args, instr.exec_form, shell), None
    line = args[0] if args else ""
    only = _ONLY_HEREDOC.fullmatch(line.strip())
    if len(instr.heredocs) == 1 and only and only.group("name") == instr.heredocs[0].name:
        body = _chomped(instr.heredocs[0])
        if body.startswith("#!"):
            return [SCRIPT_PATH], body
        return [*shell, body], None
    text = line + "\n" + "".join(f"{h.content}{h.name}\n" for h in instr.heredocs)
    return [*shell, text], None


class _Tail:
    """Reads a pipe in a thread: every line to the progress sink, the last ones kept."""

    def __init__(self, fd: int, progress: ProgressSink, prefix: str) -> None:
        self.lines: deque[str] = deque(maxlen=_TAIL)
        self._fd = fd
        self._progress = progress
        self._prefix = prefix
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with open(self._fd, "rb", closefd=True) as f:
            for raw in f:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self.lines.append(line)
                self._progress.note(f"{self._prefix}{line}")

    def join(self) -> tuple[str, ...]:
        self._thread.join()
        return tuple(self.lines)


@dataclass(frozen=True)
class RunCommand:
    """One RUN step to start: ``env`` is what its process sees (secrets exposed as
    variables included), ``user`` the config's USER, resolved in the step's rootfs;
    ``container`` its mounts, network and seccomp choice."""

    instr: Run
    shell: Sequence[str]
    env: Mapping[str, str]
    user: str
    cwd: str
    container: ContainerOptions


def _failure(
    status: ExitStatus, argv: Sequence[str], output: tuple[str, ...], at: Location
) -> StepFailed:
    if status.runtime_error:
        return StepFailed(
            f"RUN could not start: {status.runtime_error}",
            exit_code=status.code,
            output=output,
            location=at,
            hint="run 'imageforge system check' to see whether containers can start",
        )
    shown = "\n".join(f"  | {line}" for line in output[-_SHOWN:])
    how = f"exited with code {status.code}"
    hint = "fix the command or the files it needs; nothing was tagged"
    killed = status.killed()
    if killed is not None:
        how = killed if status.code == 137 else f"{how}; a process in it was {killed}"
        hint = (
            "give the build more memory (--memory) or make the step need less; nothing was tagged"
        )
    return StepFailed(
        f"RUN {' '.join(argv)!r} {how}"
        + (f"; last lines of its output:\n{shown}" if shown else " and printed nothing"),
        exit_code=status.code,
        output=output,
        location=at,
        hint=hint,
    )


@dataclass(frozen=True)
class RunResult:
    """How a RUN step's command ended, with the last lines of its output."""

    status: ExitStatus
    argv: tuple[str, ...]
    output: tuple[str, ...]

    def check(self, at: Location) -> None:
        """Raise :class:`StepFailed` (located ``at``) unless the command exited 0."""
        if not self.status.ok:
            raise _failure(self.status, self.argv, self.output, at)


def run_command(
    runtime: Runtime, root: Path, command: RunCommand, progress: ProgressSink
) -> RunResult:
    """Run ``command`` in ``root`` (the step's snapshot), its output to ``progress``
    line by line."""
    argv, script = run_argv(command.instr, command.shell)
    uid, gid, groups = resolve_user(root, command.user)
    process = Process(
        args=argv, env=command.env, cwd=command.cwd, uid=uid, gid=gid, additional_gids=groups
    )
    with ExitStack() as stack:
        mounts: list[Mount] = list(command.container.mounts)
        if script is not None:  # a heredoc with a #! line runs as a file
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="imageforge-")))
            path = tmp / "script"
            path.write_text(script)
            path.chmod(0o755)
            mounts.append(Mount(SCRIPT_PATH, "bind", str(path), ("rbind", "ro")))
        read_fd, write_fd = os.pipe()
        tail = _Tail(read_fd, progress, "  | ")
        options = replace(
            command.container, mounts=mounts, io=StdIO(stdout=write_fd, stderr=write_fd)
        )
        try:
            status = run_container(runtime, root, process, options)
        finally:
            os.close(write_fd)
        output = tail.join()
    return RunResult(status, tuple(argv), output)
