"""Safe rewrites, each owned by the rule whose finding it removes (``Rule.fix``).

A fix reads the finding (:class:`Hit`) and the source lines and returns
:class:`Edit` values: whole lines replaced or inserted. It changes only what the rule
asks for, declines (returns nothing) whenever it cannot be sure the rewrite keeps the
rest of the build the same, and never fires on its own output (fixing twice equals
fixing once). Hand-written: no library rewrites Dockerfiles; the edits are on source
text, so comments, continuation lines and layout survive.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from imageforge.dockerfile import (
    Cmd,
    Copy,
    DockerIgnore,
    Entrypoint,
    Instruction,
    Run,
    Stage,
    Workdir,
)
from imageforge.lint._facts import (
    broad_source,
    copied_names,
    install_of,
    installs,
    names_match,
    run_commands,
)
from imageforge.lint._model import Edit, Hit, LintInput

__all__ = [
    "fix_apt_lists",
    "fix_copy_manifests_first",
    "fix_exec_form",
    "fix_no_install_recommends",
    "fix_npm_ci",
    "fix_pip_no_cache",
]


# Where one simple command ends in shell text (continuations already joined).
_END_OF_COMMAND = re.compile(r"&&|\|\||[;|&)\n]|$")


def _at(lint: LintInput, line: int) -> tuple[Stage, Instruction] | None:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if instr.location.start_line == line:
                return stage, instr
    return None


def _shell_run(lint: LintInput, hit: Hit) -> tuple[Stage, Run] | None:
    """The shell-form, heredoc-free RUN the finding is on."""
    found = _at(lint, hit.line)
    if found is None:
        return None
    stage, run = found
    if not isinstance(run, Run) or run.exec_form or run.heredocs:
        return None
    return stage, run


def _command_tail(text: str, pos: int) -> str:
    """The simple command from ``pos`` to its end, continuations joined."""
    rest = text[pos:].replace("\\\n", " ")
    m = _END_OF_COMMAND.search(rest)
    return rest[: m.start()] if m else rest


def _in_comment(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return text[line_start:pos].lstrip().startswith("#")


def _insert_flag(
    run: Run,
    lines: Sequence[str],
    pattern: re.Pattern[str],
    flag: str,
    present: Callable[[list[str]], bool],
) -> list[Edit]:
    """Insert ``flag`` after every match of ``pattern`` in ``run`` unless ``present``
    says the rest of that command's words already do the job."""
    start, end = run.location.start_line, run.location.end_line
    text = "\n".join(lines[start - 1 : end])
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        if _in_comment(text, m.start()):
            continue
        if present(_command_tail(text, m.start()).split()):
            continue
        out.append(text[last : m.end()])
        out.append(f" {flag}")
        last = m.end()
    if not out:
        return []
    out.append(text[last:])
    return [Edit(start, end, tuple("".join(out).split("\n")))]


_APT_INSTALL = re.compile(r"\b(?:apt-get|apt)(?:\s+(?:\\\n\s*)?-[^\s]+)*\s+(?:\\\n\s*)?install\b")
_APT_SIMULATE = ("-s", "--simulate", "--just-print", "--dry-run", "--recon", "--no-act")


def fix_no_install_recommends(lint: LintInput, hit: Hit, lines: Sequence[str]) -> list[Edit]:
    """IF206: ``--no-install-recommends`` after each ``apt-get install`` lacking it."""
    found = _shell_run(lint, hit)
    if found is None:
        return []

    def present(words: list[str]) -> bool:
        return any(
            w == "--no-install-recommends" or "Install-Recommends" in w or w in _APT_SIMULATE
            for w in words
        )

    return _insert_flag(found[1], lines, _APT_INSTALL, "--no-install-recommends", present)


_PIP_INSTALL = re.compile(
    r"\b(?:pip[0-9.]*|python[0-9.]*\s+-m\s+pip[0-9.]*)(?:\s+-[^\s]+)*\s+(?:\\\n\s*)?install\b"
)


def fix_pip_no_cache(lint: LintInput, hit: Hit, lines: Sequence[str]) -> list[Edit]:
    """IF207: ``--no-cache-dir`` after each ``pip install`` lacking it."""
    found = _shell_run(lint, hit)
    if found is None:
        return []

    def present(words: list[str]) -> bool:
        return "--no-cache-dir" in words

    return _insert_flag(found[1], lines, _PIP_INSTALL, "--no-cache-dir", present)


def fix_apt_lists(lint: LintInput, hit: Hit, lines: Sequence[str]) -> list[Edit]:
    """IF205: end the RUN with ``rm -rf /var/lib/apt/lists/*``."""
    found = _shell_run(lint, hit)
    if found is None:
        return []
    end = found[1].location.end_line
    last = lines[end - 1].rstrip()
    if last.endswith(("\\", "&", "|")):
        return []  # not a plain end of script: leave it to a person
    joiner = " " if last.endswith(";") else " && "
    return [Edit(end, end, (f"{last}{joiner}rm -rf /var/lib/apt/lists/*",))]


_NPM_INSTALL = re.compile(r"\bnpm\s+(?:install|i)\b")
_NPM_LOCKS = ("package-lock.json", "npm-shrinkwrap.json")


def _lock_copied(lint: LintInput, stage: Stage, run: Run) -> bool:
    """A lockfile is copied by name before ``run`` (a glob such as ``package*.json``
    counts only when the build context shows the lockfile is there)."""
    names, broad = copied_names(stage, run)
    if any(n in _NPM_LOCKS for n in names):
        return True
    if lint.context is None:
        return False
    root = Path(lint.context.context)
    ignore = DockerIgnore().extended(lint.context.ignore_lines)
    present = [
        lock for lock in _NPM_LOCKS if (root / lock).is_file() and not ignore.is_ignored(lock)
    ]
    # ``COPY . .`` sends a lockfile the context has; so does a glob naming it.
    return bool(present) and (broad or names_match(names, present))


def fix_npm_ci(lint: LintInput, hit: Hit, lines: Sequence[str]) -> list[Edit]:
    """IF301: ``npm install`` with no package names becomes ``npm ci`` when the
    lockfile it would install from is copied."""
    found = _shell_run(lint, hit)
    if found is None:
        return []
    stage, run = found
    if not _lock_copied(lint, stage, run):
        return []
    start, end = run.location.start_line, run.location.end_line
    text = "\n".join(lines[start - 1 : end])
    out: list[str] = []
    last = 0
    for m in _NPM_INSTALL.finditer(text):
        if _in_comment(text, m.start()):
            continue
        tail = _command_tail(text, m.end()).split()
        if any(not w.startswith("-") for w in tail):
            continue  # names packages: IF310's business, not a lockfile install
        out += [text[last : m.start()], "npm ci"]
        last = m.end()
    if not out:
        return []
    out.append(text[last:])
    return [Edit(start, end, tuple("".join(out).split("\n")))]


_SHELL_SPECIAL = set("$|&;<>*?`~\\(){}[]#\n")


def fix_exec_form(lint: LintInput, hit: Hit, lines: Sequence[str]) -> list[Edit]:
    """IF707: a simple one-line shell-form CMD/ENTRYPOINT becomes its JSON form. Not
    when the line uses the shell (variables, pipes, globs, redirections), and not an
    ENTRYPOINT in a stage that also sets CMD (exec form would pass CMD to it)."""
    found = _at(lint, hit.line)
    if found is None:
        return []
    stage, instr = found
    if not isinstance(instr, Cmd | Entrypoint) or instr.exec_form:
        return []
    start, end = instr.location.start_line, instr.location.end_line
    if start != end or not instr.args:
        return []
    if isinstance(instr, Entrypoint) and any(isinstance(i, Cmd) for i in stage.instructions):
        return []
    command = instr.args[0]
    if _SHELL_SPECIAL & set(command):
        return []
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    if not words:
        return []
    line = lines[start - 1]
    keyword = line[: len(line) - len(line.lstrip())] + line.lstrip()[: len(instr.keyword)]
    return [Edit(start, end, (f"{keyword} {json.dumps(words, ensure_ascii=False)}",))]


# Recognised ecosystems: the install's manifest -> what to copy first (a trailing "*"
# makes an optional file: BuildKit allows a wildcard that matches nothing).
_FIRST: dict[str, tuple[str, ...]] = {
    "npm": ("package.json", "package-lock.json*", "npm-shrinkwrap.json*"),
    "yarn": ("package.json", "yarn.lock*"),
    "pnpm": ("package.json", "pnpm-lock.yaml*"),
    "go-mod": ("go.mod", "go.sum*"),
}
_FIRST_BUNDLE = ("Gemfile", "Gemfile.lock*")


_HARMLESS = ("set", "echo", "true")
# Manifests that can pull in more of the source tree (a gemspec, `-e .`, a path).
_REACHES_OUT = re.compile(r"^\s*(-e|-r|-c|--editable|\.|/|file:)|gemspec|path:", re.MULTILINE)


def _first_sources(lint: LintInput, run: Run) -> tuple[str, ...] | None:
    """What ``run`` needs copied first, when it only installs, every install is of a
    recognised kind that reads only its manifests, and (pip, bundle) the context shows
    the manifest names nothing else of the source tree."""
    found = installs(run)
    if not found:
        return None
    others = [c for c in run_commands(run) if install_of(c) is None]
    if any(c.program not in _HARMLESS for c in others):
        return None  # e.g. `npm ci && npm run build` needs the sources
    wanted: list[str] = []
    for i in found:
        if i.tool in ("pip", "bundle"):
            manifests = i.manifests if i.tool == "pip" else ("Gemfile",)
            if i.packages or not manifests or not _self_contained(lint, manifests):
                return None
            wanted += manifests if i.tool == "pip" else _FIRST_BUNDLE
        elif i.tool in _FIRST and i.manifests and not i.packages:
            wanted += _FIRST[i.tool]
        else:
            return None
    return tuple(dict.fromkeys(wanted))


def _self_contained(lint: LintInput, manifests: Sequence[str]) -> bool:
    if lint.context is None:
        return False
    root = Path(lint.context.context)
    for m in manifests:
        if "/" in m or "*" in m or "$" in m:
            return False
        try:
            text = (root / m).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        if _REACHES_OUT.search(text):
            return False
    return True


def fix_copy_manifests_first(lint: LintInput, hit: Hit, lines: Sequence[str]) -> list[Edit]:
    """IF201: ``COPY . <dir>`` before a dependency install becomes ``COPY <manifests>
    <dir>/`` there and ``COPY . <dir>`` right after the install. Only for npm, yarn,
    pnpm, ``pip install -r``, ``go mod download`` and ``bundle install``, when nothing
    but ENV/ARG/LABEL/WORKDIR-free instructions sit between the two."""
    found = _at(lint, hit.line)
    if found is None:
        return []
    stage, copy = found
    if not isinstance(copy, Copy) or copy.from_ is not None or copy.heredocs:
        return []
    if len(copy.sources) != 1 or not broad_source(copy.sources[0]):
        return []
    start, end = copy.location.start_line, copy.location.end_line
    if start != end:
        return []
    after = stage.instructions[stage.instructions.index(copy) + 1 :]
    install: Run | None = None
    for instr in after:
        if isinstance(instr, Run):
            install = instr
            break
        if isinstance(instr, Copy | Workdir) or instr.keyword in ("ADD", "USER", "ONBUILD"):
            return []
    if install is None or install.exec_form or any(m.type == "bind" for m in install.mounts):
        return []
    first = _first_sources(lint, install)
    if not first:
        return []
    line = lines[start - 1]
    src = copy.sources[0]
    pos = line.rfind(src + " ")
    if pos < 0:
        return []
    dest = copy.dest if copy.dest.endswith("/") else copy.dest + "/"
    head = line[:pos]
    tail = line[pos + len(src) + 1 :]
    if tail.strip() != copy.dest:
        return []
    manifests = f"{head}{' '.join(first)} {dest}"
    stop = install.location.end_line
    return [Edit(start, end, (manifests,)), Edit(stop + 1, stop, (line,))]
