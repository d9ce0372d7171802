"""ShellCheck over RUN scripts, the way hadolint runs it: each shell-form RUN becomes a
script with a ``#!`` line from the stage's SHELL or a ``# hadolint shell=`` comment
(default /bin/sh) and an ``export``
of every ARG and ENV name set before it; PowerShell and cmd stages are skipped; SC1090,
SC1091 (sourced files that a Dockerfile cannot show) and SC2187 (ash) are excluded.
Findings keep their SC ids and sit on the RUN's first line.

Batched: all RUNs of a Dockerfile go to one ``shellcheck`` process (one file each).
ShellCheck itself is the Debian ``shellcheck`` binary; when it is not installed no SC
finding is reported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imageforge.dockerfile import Arg, Dockerfile, Env, Run
from imageforge.lint._facts import bases_of
from imageforge.lint._model import LintInput
from imageforge.lint._shell import run_text

__all__ = ["ShellComment", "shellcheck_runs"]

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
    binary = shutil.which("shellcheck")
    if isinstance(dockerfile, Dockerfile):
        dockerfile = LintInput(dockerfile, bases_of(dockerfile))
    scripts = _scripts(dockerfile)
    if binary is None or not scripts:
        return []
    with tempfile.TemporaryDirectory(prefix="imageforge-sc-") as tmp:
        lines: dict[str, int] = {}
        for n, (run, script) in enumerate(scripts):
            name = str(Path(tmp) / f"run{n}.sh")
            Path(name).write_text(script, encoding="utf-8")
            lines[name] = run.location.start_line
        proc = subprocess.run(
            [binary, "--format=json1", f"--exclude={_EXCLUDED}", "--", *lines],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        return []
    comments = json.loads(proc.stdout).get("comments", [])
    found = {
        ShellComment(f"SC{c['code']}", str(c["level"]), str(c["message"]), lines[c["file"]])
        for c in comments
        if c.get("file") in lines
    }
    return sorted(found, key=lambda s: (s.line, s.code, s.message))
