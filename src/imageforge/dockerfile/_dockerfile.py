"""A parsed Dockerfile: global ARGs, build stages and the warnings BuildKit would give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageforge.dockerfile._ast import Directive, Node, ParseWarning, SourceRange
from imageforge.dockerfile._convert import instruction_from_node
from imageforge.dockerfile._instructions import Arg, Env, From, Instruction, Label, Maintainer
from imageforge.dockerfile._parser import parse_ast
from imageforge.errors import InvalidArgument, Location

__all__ = ["Dockerfile", "Stage", "parse", "parse_file"]


@dataclass(frozen=True)
class Stage:
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    from_: From
    instructions: tuple[Instruction, ...]

    @property
    def name(self) -> str | None:
        """The ``AS`` name, lower-cased as BuildKit stores it."""
        return self.from_.name

    @property
    def base(self) -> str:
        """The image or earlier stage this one starts from (unexpanded)."""
        return self.from_.image

    @property
    def platform(self) -> str | None:
        return self.from_.platform

    @property
    def location(self) -> SourceRange:
        return self.from_.location

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "base": self.base,
            "platform": self.platform,
            "location": self.location.to_json(),
            "instructions": [i.to_json() for i in self.instructions],
        }


@dataclass(frozen=True)
class Dockerfile:
    """Everything :func:`parse` learns from one Dockerfile."""

    file: str
    escape: str
    directives: tuple[Directive, ...]
    nodes: tuple[Node, ...]
    instructions: tuple[Instruction, ...]
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[ParseWarning, ...]

    def stage(self, name: str) -> Stage:
        """The stage called ``name`` (case-insensitive) or with that index."""
        for s in self.stages:
            if s.name is not None and s.name == name.lower():
                return s
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        raise InvalidArgument(f"no build stage named {name!r} in {self.file}")

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "escape": self.escape,
            "directives": [
                {"name": d.name, "value": d.value, "line": d.line} for d in self.directives
            ],
            "meta_args": [a.to_json() for a in self.meta_args],
            "stages": [s.to_json() for s in self.stages],
            "warnings": [w.to_json() for w in self.warnings],
        }


def _warnings_for(instr: Instruction) -> list[ParseWarning]:
    loc = instr.location
    if isinstance(instr, Maintainer):
        return [
            ParseWarning(
                "MaintainerDeprecated",
                "Maintainer instruction is deprecated in favor of using label",
                loc.start_line,
                loc.column,
            )
        ]
    if isinstance(instr, Env | Label) and any(p.legacy for p in instr.pairs):
        kw = instr.keyword
        return [
            ParseWarning(
                "LegacyKeyValueFormat",
                f'"{kw} key=value" should be used instead of legacy "{kw} key value" format',
                loc.start_line,
                loc.column,
            )
        ]
    return []


def parse(source: str | bytes, *, file: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text into typed instructions grouped in stages.

    Raises :class:`~imageforge.errors.InvalidArgument` located at ``file:line:col``
    for anything BuildKit refuses: unknown instructions or flags, an unterminated
    heredoc, a non-JSON SHELL, a bad ``# escape``, a file with no instructions..."""
    ast = parse_ast(source, file=file)
    instructions: list[Instruction] = []
    meta_args: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    warnings = list(ast.warnings)
    for node in ast.nodes:
        instr = instruction_from_node(node, file)
        instructions.append(instr)
        warnings.extend(_warnings_for(instr))
        if isinstance(instr, From):
            stages.append((instr, []))
        elif not stages:
            if not isinstance(instr, Arg):
                loc = node.location
                raise InvalidArgument(
                    "no build stage in current context",
                    location=Location(file, loc.start_line, loc.column),
                    hint=f"only ARG may come before the first FROM, not {node.keyword.upper()}",
                )
            meta_args.append(instr)
        else:
            stages[-1][1].append(instr)
    return Dockerfile(
        file=file,
        escape=ast.escape,
        directives=ast.directives,
        nodes=ast.nodes,
        instructions=tuple(instructions),
        meta_args=tuple(meta_args),
        stages=tuple(Stage(i, f, tuple(body)) for i, (f, body) in enumerate(stages)),
        warnings=tuple(warnings),
    )


def parse_file(path: str | Path) -> Dockerfile:
    """:func:`parse` the file at ``path`` (errors name it as given)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        from imageforge.errors import NotFound

        raise NotFound(f"no such Dockerfile: {p}", hint="give the path of a Dockerfile") from None
    return parse(data, file=str(path))
