"""Typed instructions back to Dockerfile text that parses to the same instructions."""

from __future__ import annotations

import json
from collections.abc import Iterable

from imageforge.dockerfile._ast import Heredoc
from imageforge.dockerfile._dockerfile import Dockerfile
from imageforge.dockerfile._gotext import is_go_space
from imageforge.dockerfile._instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)

__all__ = ["format_instruction", "to_dockerfile"]


def _flag(name: str, value: str | None, escape: str) -> list[str]:
    if value is None:
        return []
    if value and not any(is_go_space(c) or c in "'\"" or c == escape for c in value):
        return [f"--{name}={value}"]
    quoted = value.replace(escape, escape + escape).replace('"', escape + '"')
    return [f'--{name}="{quoted}"']


def _bool(name: str, value: bool | None) -> list[str]:
    if value is None:
        return []
    return [f"--{name}" if value else f"--{name}=false"]


def _json(items: Iterable[str]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def _line(keyword: str, flags: list[str], rest: str) -> str:
    if rest.startswith("--"):
        flags = [*flags, "--"]
    return " ".join([keyword, *flags, *([rest] if rest else [])])


def _bodies(heredocs: tuple[Heredoc, ...]) -> str:
    return "".join("\n" + doc.content + doc.name for doc in heredocs)


def _needs_json(words: Iterable[str]) -> bool:
    return any(not w or any(is_go_space(c) for c in w) for w in words)


def format_instruction(instr: Instruction, escape: str = "\\") -> str:
    """One instruction as Dockerfile text (heredoc bodies included), no final newline."""
    kw = instr.keyword
    if isinstance(instr, From):
        rest = instr.image + (f" AS {instr.name}" if instr.name else "")
        return _line(kw, _flag("platform", instr.platform, escape), rest)
    if isinstance(instr, Run | Cmd | Entrypoint):
        flags: list[str] = []
        if isinstance(instr, Run):
            for m in instr.mounts:
                flags += _flag("mount", m.raw, escape)
            flags += _flag("network", instr.network, escape)
            flags += _flag("security", instr.security, escape)
            for dev in instr.devices:
                flags += _flag("device", dev, escape)
        rest = _json(instr.args) if instr.exec_form else " ".join(instr.args)
        text = _line(kw, flags, rest)
        return text + (_bodies(instr.heredocs) if isinstance(instr, Run) else "")
    if isinstance(instr, Shell):
        return _line(kw, [], _json(instr.shell))
    if isinstance(instr, Copy | Add):
        flags = []
        if isinstance(instr, Copy):
            flags += _flag("from", instr.from_, escape)
        flags += _flag("chown", instr.chown, escape)
        flags += _flag("chmod", instr.chmod, escape)
        flags += _bool("link", instr.link or None)
        if isinstance(instr, Copy):
            flags += _bool("parents", instr.parents or None)
        else:
            flags += _bool("keep-git-dir", instr.keep_git_dir)
            flags += _flag("checksum", instr.checksum, escape)
            flags += _bool("unpack", instr.unpack)
        for pattern in instr.exclude:
            flags += _flag("exclude", pattern, escape)
        words = [*instr.sources, instr.dest]
        rest = _json(words) if _needs_json(words) and not instr.heredocs else " ".join(words)
        return _line(kw, flags, rest) + _bodies(instr.heredocs)
    if isinstance(instr, Env | Label):
        if len(instr.pairs) == 1 and instr.pairs[0].legacy:
            return _line(kw, [], f"{instr.pairs[0].key} {instr.pairs[0].value}")
        return _line(kw, [], " ".join(f"{p.key}={p.value}" for p in instr.pairs))
    if isinstance(instr, Arg):
        return _line(
            kw, [], " ".join(a.key if a.value is None else f"{a.key}={a.value}" for a in instr.args)
        )
    if isinstance(instr, Expose):
        return _line(kw, [], " ".join(instr.ports))
    if isinstance(instr, Volume):
        rest = _json(instr.paths) if instr.exec_form else " ".join(instr.paths)
        return _line(kw, [], rest)
    if isinstance(instr, User):
        return _line(kw, [], instr.user)
    if isinstance(instr, Workdir):
        return _line(kw, [], instr.path)
    if isinstance(instr, StopSignal):
        return _line(kw, [], instr.signal)
    if isinstance(instr, Maintainer):
        return _line(kw, [], instr.maintainer)
    if isinstance(instr, Healthcheck):
        if instr.test == ("NONE",):
            return f"{kw} NONE"
        flags = []
        flags += _flag("interval", instr.interval, escape)
        flags += _flag("timeout", instr.timeout, escape)
        flags += _flag("start-period", instr.start_period, escape)
        flags += _flag("start-interval", instr.start_interval, escape)
        flags += _flag("retries", None if instr.retries is None else str(instr.retries), escape)
        exec_form = instr.test[0] == "CMD"
        cmd = _json(instr.test[1:]) if exec_form else " ".join(instr.test[1:])
        return " ".join([kw, *flags, "CMD", cmd])
    if isinstance(instr, Onbuild):
        return f"{kw} " + format_instruction(instr.instruction, escape)
    raise TypeError(f"cannot format {type(instr).__name__}")  # pragma: no cover


def to_dockerfile(dockerfile: Dockerfile | Iterable[Instruction], *, escape: str = "\\") -> str:
    """Dockerfile text for a parsed file (directives kept) or a list of instructions."""
    lines: list[str] = []
    if isinstance(dockerfile, Dockerfile):
        escape = dockerfile.escape
        lines += [f"# {d.name}={d.value}" for d in dockerfile.directives]
        instructions: Iterable[Instruction] = dockerfile.instructions
    else:
        instructions = dockerfile
        if escape != "\\":
            lines.append(f"# escape={escape}")
    lines += [format_instruction(i, escape) for i in instructions]
    return "\n".join(lines) + "\n"
