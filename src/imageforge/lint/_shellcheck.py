"""ShellCheck over RUN scripts, the way hadolint runs it: each shell-form RUN becomes a
script with a ``#!`` line from the stage's SHELL or a ``# hadolint shell=`` comment
(default /bin/sh) and an ``export``
of every ARG and ENV name set before it; PowerShell and cmd stages are skipped; SC1090,
SC1091 (sourced files that a Dockerfile cannot show) and SC2187 (ash) are excluded.
Findings keep their SC ids and sit on the RUN's first line.

Batched: all RUNs of a Dockerfile go to one ``shellcheck`` process (one file each); a
run over many Dockerfiles (:func:`shellcheck_many`) shares all their scripts among one
process per CPU.
ShellCheck itself is the Debian ``shellcheck`` binary; when it is not installed no SC
finding is reported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imageforge.dockerfile import Arg, Dockerfile, Env, Run
from imageforge.lint._facts import bases_of
from imageforge.lint._model import LintInput
from imageforge.lint._shell import run_text

__all__ = ["ShellComment", "shellcheck_many", "shellcheck_runs"]

_EXCLUDED = "SC1090,SC1091,SC2187"
_NOT_POSIX = ("pwsh", "powershell", "powershell.exe", "cmd", "cmd.exe")


@dataclass(frozen=True)
class ShellComment:
    """One ShellCheck finding on a RUN: its SC id, level (error, warning, info, style),
    message, and the RUN's first line."""

    code: str
    level: str
    message: str
    line: int


def _script(run: Run) -> str:
    """The shell script of ``run``: a RUN that is only ``<<EOF`` runs its body; other
    heredocs are written back with their terminators so the script parses."""
    line = " ".join(run.args)
    if not run.heredocs:
        return run_text(run)
    if line.strip().lstrip("<-").strip("'\"") == run.heredocs[0].name and len(run.heredocs) == 1:
        return run.heredocs[0].content
    bodies = "".join(f"{h.content.rstrip(chr(10))}\n{h.name}\n" for h in run.heredocs)
    return f"{line}\n{bodies}"


def _shell_name(shell: str) -> str:
    return shell.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()


def _scripts(lint: LintInput) -> list[tuple[Run, str]]:
    out: list[tuple[Run, str]] = []
    for stage in lint.dockerfile.stages:
        names: set[str] = set()
        for instr in stage.instructions:
            if isinstance(instr, Env):
                names |= {p.key for p in instr.pairs}
            elif isinstance(instr, Arg):
                names |= {a.key for a in instr.args}
            elif isinstance(instr, Run) and not instr.exec_form:
                shell = lint.shell_of(stage, instr)[0]
                if _shell_name(shell) in _NOT_POSIX:
                    continue
                if not shell.startswith("/"):  # '# hadolint shell=bash'
                    shell = f"/usr/bin/env {shell}"
                exports = "".join(f"export {n}=1\n" for n in sorted(names) if n.isidentifier())
                out.append((instr, f"#!{shell}\n{exports}{_script(instr)}\n"))
    return out


def shellcheck_runs(dockerfile: Dockerfile | LintInput) -> list[ShellComment]:
    """ShellCheck's findings on every shell-form RUN of ``dockerfile``, in one process
    (a :class:`LintInput` brings its ``# hadolint shell=`` comments)."""
    if isinstance(dockerfile, Dockerfile):
        dockerfile = LintInput(dockerfile, bases_of(dockerfile))
    return shellcheck_many([dockerfile], jobs=1)[0]


def shellcheck_many(
    inputs: Sequence[LintInput], jobs: int | None = None
) -> list[list[ShellComment]]:
    """:func:`shellcheck_runs` for many Dockerfiles at once: every script in one
    directory, checked by ``jobs`` concurrent ``shellcheck`` processes (default: one
    per CPU, at most 8) over balanced shares; one list of findings per input."""
    binary = shutil.which("shellcheck")
    out: list[list[ShellComment]] = [[] for _ in inputs]
    scripts = [(k, run, text) for k, lint in enumerate(inputs) for run, text in _scripts(lint)]
    if binary is None or not scripts:
        return out
    jobs = max(1, min(jobs or os.cpu_count() or 1, 8, len(scripts)))
    with tempfile.TemporaryDirectory(prefix="imageforge-sc-") as tmp:
        where: dict[str, tuple[int, int]] = {}
        shares: list[list[str]] = [[] for _ in range(jobs)]
        sizes = [0] * jobs
        for n, (k, run, text) in sorted(enumerate(scripts), key=lambda e: -len(e[1][2])):
            name = str(Path(tmp) / f"run{n}.sh")
            Path(name).write_text(text, encoding="utf-8")
            where[name] = (k, run.location.start_line)
            j = sizes.index(min(sizes))  # largest first onto the lightest share
            shares[j].append(name)
            sizes[j] += len(text)
        # Output to files, not pipes: a share whose pipe filled would wait for the
        # parent to drain it, one share after another.
        running = []
        for j, share in enumerate(s for s in shares if s):
            sink = Path(tmp) / f"out{j}.json"
            with sink.open("wb") as fh:
                cmd = [binary, "--format=json1", f"--exclude={_EXCLUDED}", "--", *share]
                running.append((subprocess.Popen(cmd, stdout=fh, stderr=subprocess.DEVNULL), sink))
        outputs = [(p.wait(), sink.read_text(encoding="utf-8")) for p, sink in running]
    found: list[set[ShellComment]] = [set() for _ in inputs]
    for code, stdout in outputs:
        if code not in (0, 1) or not stdout.strip():
            continue
        for c in json.loads(stdout).get("comments", []):
            if c.get("file") in where:
                k, line = where[c["file"]]
                found[k].add(
                    ShellComment(f"SC{c['code']}", str(c["level"]), str(c["message"]), line)
                )
    for k, comments in enumerate(found):
        out[k] = sorted(comments, key=lambda s: (s.line, s.code, s.message))
    return out
