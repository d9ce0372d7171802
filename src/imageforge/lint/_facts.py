"""Facts the rules share: each stage's base, the commands of each RUN, package-manager
invocations, and what the COPYs before an instruction brought in."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from imageforge.dockerfile import (
    Add,
    Copy,
    Dockerfile,
    Env,
    Instruction,
    Run,
    Stage,
    expand_word,
)
from imageforge.errors import InvalidArgument
from imageforge.lint._model import Base, LintInput
from imageforge.lint._shell import Command, commands, run_text
from imageforge.oci import Reference

__all__ = [
    "APT_SIMULATE",
    "Install",
    "bases_of",
    "broad_source",
    "all_instructions",
    "chain_instructions",
    "context_copies",
    "copied_names",
    "has_cache_mount",
    "install_of",
    "installs",
    "names_match",
    "run_commands",
    "runs",
    "stage_env",
]

_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def bases_of(df: Dockerfile) -> tuple[Base, ...]:
    """Each stage's base, with global ARG defaults substituted into FROM."""
    defaults: dict[str, str] = {}
    for arg in df.meta_args:
        for a in arg.args:
            if a.value is not None:
                defaults[a.key] = a.value
    names: dict[str, Stage] = {}
    out: list[Base] = []
    for stage in df.stages:
        text = stage.base
        if all(v in defaults for v in _VAR.findall(text)):
            try:
                text = expand_word(text, defaults, escape=df.escape)
            except InvalidArgument:
                text = stage.base
        lowered = text.lower()
        if lowered in names:
            out.append(Base(stage, text, parent=names[lowered]))
        elif lowered == "scratch":
            out.append(Base(stage, text, scratch=True))
        elif "$" in text:
            out.append(Base(stage, text))
        else:
            try:
                ref = Reference.parse(text)
            except InvalidArgument:
                out.append(Base(stage, text))
            else:
                last = text.rsplit("/", 1)[-1].split("@", 1)[0]
                out.append(Base(stage, text, ref=ref, written_tag=":" in last))
        if stage.name:
            names[stage.name.lower()] = stage
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def run_commands(run: Run) -> tuple[Command, ...]:
    """The simple commands of a RUN (memoised: every rule asks)."""
    return tuple(commands(run_text(run)))


def stage_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for instr in stage.instructions:
        if isinstance(instr, Env):
            for kv in instr.pairs:
                env[kv.key] = kv.value
    return env


def broad_source(source: str) -> bool:
    """A COPY source that sends the whole context (``.``, ``./``, ``*``)."""
    return source.strip() in (".", "./", "*", "./*", "/")


def context_copies(stage: Stage, before: Instruction | None = None) -> Iterator[Copy | Add]:
    """COPY/ADD from the build context (no ``--from``, no heredoc, no URL) before ``before``."""
    for instr in stage.instructions:
        if instr is before:
            return
        if isinstance(instr, Copy) and instr.from_ is None and not instr.heredocs:
            yield instr
        elif isinstance(instr, Add) and not instr.heredocs:
            if not any("://" in s or s.startswith("git@") for s in instr.sources):
                yield instr


def copied_names(stage: Stage, before: Instruction) -> tuple[list[str], bool]:
    """The source basenames copied from the context before ``before``, and whether one
    of those COPYs sent the whole context."""
    names: list[str] = []
    broad = False
    for c in context_copies(stage, before):
        for s in c.sources:
            if broad_source(s):
                broad = True
            names.append(s.rstrip("/").rsplit("/", 1)[-1])
    return names, broad


def names_match(copied: Sequence[str], wanted: Sequence[str]) -> bool:
    """True when a copied source (maybe a glob such as ``package*.json``) names one of
    ``wanted``."""
    return any(fnmatch.fnmatchcase(w, c) or c == w for c in copied for w in wanted)


@dataclass(frozen=True)
class Install:
    """One package-manager invocation in a RUN: the tool (``apt``, ``apk``, ``pip``,
    ``npm``, ``yarn``, ``pnpm``, ``poetry``, ``pipenv``, ``gem``, ``bundle``,
    ``composer``, ``go-mod``), its words after the sub-command, the package names
    (words that are not options), and the files it reads to know what to install."""

    tool: str
    command: Command
    args: tuple[str, ...]
    packages: tuple[str, ...]
    manifests: tuple[str, ...] = ()

    def has(self, *flags: str) -> bool:
        return self.command.has(*flags)


_PIP = re.compile(r"^pip[0-9.]*$")
_PY = re.compile(r"^python[0-9.]*$")
# Options that take a value as the next word, per tool.
_VALUED = {
    "apt": {"-o", "-t", "--target-release", "-c"},
    "apk": {"--repository", "-X", "--virtual", "-t", "--root", "-p", "--arch"},
    "pip": {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--platform",
        "--python-version",
        "--only-binary",
        "--no-binary",
        "--trusted-host",
        "-e",
        "--editable",
        "--progress-bar",
        "--timeout",
        "--retries",
    },
    "npm": {"--prefix", "--registry", "-w", "--workspace", "--omit", "--include"},
    "gem": {"-v", "--version", "-i", "--install-dir", "-n", "--bindir", "--source"},
}


def _packages(tool: str, words: Sequence[str]) -> tuple[str, ...]:
    valued = _VALUED.get(tool, set())
    out: list[str] = []
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if w.startswith("-"):
            if w in valued:
                skip = True
            continue
        out.append(w)
    return tuple(out)


def _option_values(words: Sequence[str], *names: str) -> list[str]:
    out: list[str] = []
    for i, w in enumerate(words):
        for n in names:
            if w == n and i + 1 < len(words):
                out.append(words[i + 1])
            elif w.startswith(n + "="):
                out.append(w.split("=", 1)[1])
            elif len(n) == 2 and len(w) > 2 and w.startswith(n):  # -rFILE, as getopt reads it
                out.append(w[2:])
    return out


def _pip_args(cmd: Command) -> tuple[str, ...] | None:
    words = cmd.words
    for i, w in enumerate(words):
        name = w.rsplit("/", 1)[-1]
        if _PIP.match(name):
            rest = words[i + 1 :]
            break
        if _PY.match(name) and words[i + 1 : i + 3] in (("-m", "pip"), ("-m", "pip3")):
            rest = words[i + 3 :]
            break
    else:
        return None
    for k, w in enumerate(rest):
        if w == "install":
            return tuple(rest[k + 1 :])
        if not w.startswith("-"):
            return None
    return None


APT_SIMULATE = ("-s", "--simulate", "--just-print", "--dry-run", "--recon", "--no-act")


def install_of(cmd: Command) -> Install | None:
    """The package-manager invocation ``cmd`` is, if any."""
    prog = cmd.program
    for tool, path in (
        ("apt", ("apt-get", "install")),
        ("apt", ("apt", "install")),
        ("apk", ("apk", "add")),
        ("gem", ("gem", "install")),
        ("yum", ("yum", "install")),
        ("yum", ("dnf", "install")),
        ("yum", ("microdnf", "install")),
    ):
        if prog == path[0]:
            args = cmd.args_after(*path)
            if tool == "apt" and cmd.has(*APT_SIMULATE):
                return None  # a simulated install installs nothing
            if args is not None:
                return Install(tool, cmd, args, _packages(tool, args))
    if prog in ("npm", "pnpm"):
        for sub in ("ci", "install", "i", "add"):
            args = cmd.args_after(prog, sub)
            if args is not None:
                pkgs = _packages("npm", args)
                manifests = () if pkgs else ("package.json",)
                return Install(prog, cmd, (sub, *args), pkgs, manifests)
        return None
    if prog == "yarn":
        args = cmd.args_after("yarn")
        assert args is not None
        plain = _packages("yarn", args)
        if any(a in ("--version", "-v", "--help", "-h") for a in args):
            return None
        if not plain:
            return Install("yarn", cmd, args, (), ("package.json",))
        if plain[0] == "install":
            return Install("yarn", cmd, args, (), ("package.json",))
        if plain[0] == "add":
            return Install("yarn", cmd, args, plain[1:])
        return None
    if prog == "poetry":
        args = cmd.args_after("poetry", "install")
        if args is not None:
            return Install("poetry", cmd, args, (), ("pyproject.toml",))
        return None
    if prog == "pipenv":
        for sub in ("install", "sync"):
            args = cmd.args_after("pipenv", sub)
            if args is not None:
                pkgs = _packages("pipenv", args)
                return Install("pipenv", cmd, (sub, *args), pkgs, () if pkgs else ("Pipfile",))
        return None
    if prog == "bundle":
        args = cmd.args_after("bundle", "install")
        if args is not None:
            return Install("bundle", cmd, args, (), ("Gemfile",))
        return None
    if prog == "composer":
        args = cmd.args_after("composer", "install")
        if args is not None:
            return Install("composer", cmd, args, (), ("composer.json",))
        return None
    if prog == "go":
        args = cmd.args_after("go", "mod", "download")
        if args is not None:
            return Install("go-mod", cmd, args, (), ("go.mod",))
        return None
    pip = _pip_args(cmd)
    if pip is not None:
        reqs = _option_values(pip, "-r", "--requirement")
        pkgs = _packages("pip", pip)
        reads: tuple[str, ...] = tuple(r.rsplit("/", 1)[-1] for r in reqs)
        if any(p in (".", "./") for p in pkgs) or _option_values(pip, "-e", "--editable"):
            reads += ("pyproject.toml", "setup.py", "setup.cfg")
        return Install("pip", cmd, pip, pkgs, reads)
    return None


@functools.lru_cache(maxsize=4096)
def installs(run: Run) -> tuple[Install, ...]:
    """The package-manager invocations of a RUN, in order (memoised)."""
    out = []
    for cmd in run_commands(run):
        found = install_of(cmd)
        if found is not None:
            out.append(found)
    return tuple(out)


def runs(stage: Stage) -> Iterator[Run]:
    for instr in stage.instructions:
        if isinstance(instr, Run):
            yield instr


def chain_instructions(lint: LintInput) -> list[tuple[Stage, Instruction]]:
    """The instructions that shape the final image, oldest first (the final stage and the
    stages it is built FROM)."""
    out: list[tuple[Stage, Instruction]] = []
    for stage in reversed(lint.final_stages()):
        out.extend((stage, i) for i in stage.instructions)
    return out


def all_instructions(lint: LintInput) -> list[tuple[Stage, Instruction]]:
    """Every stage's instructions, in file order (the build runs them all, shipped or not)."""
    return [(stage, i) for stage in lint.dockerfile.stages for i in stage.instructions]


def has_cache_mount(run: Run, *targets: str) -> bool:
    """``RUN --mount=type=cache`` on a target containing one of ``targets``."""
    return any(
        m.type == "cache" and m.target and any(t in m.target for t in targets) for m in run.mounts
    )
