"""The low-level syntax tree, shaped like BuildKit's ``parser.Node`` but immutable."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Directive",
    "Heredoc",
    "Node",
    "ParseResult",
    "ParseWarning",
    "SourceRange",
]


@dataclass(frozen=True)
class SourceRange:
    """Where an instruction sits: 1-based inclusive lines, 1-based column of its keyword."""

    start_line: int
    end_line: int
    column: int = 1

    def to_json(self) -> dict[str, int]:
        return {"start_line": self.start_line, "end_line": self.end_line, "column": self.column}


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to RUN, COPY or ADD (``<<EOF`` ... ``EOF``).

    ``expand`` is false when any part of the delimiter word was quoted; ``chomp`` is
    ``<<-`` (leading tabs of the body and terminator are dropped); ``content`` keeps
    the body's line endings, without the terminator line."""

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0


@dataclass(frozen=True)
class Node:
    """One instruction line as BuildKit's parser sees it.

    ``keyword`` keeps the case it was written in; ``flags`` are the leading
    ``--name[=value]`` words; ``args`` the arguments as the instruction's line parser
    formed them (``ENV``/``LABEL``: key, value, separator triples); ``child`` is the
    instruction an ``ONBUILD`` wraps; ``json`` tells an exec-form (JSON array) argument
    list; ``original`` is the joined logical line."""

    keyword: str
    flags: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    child: Node | None = None
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    original: str = ""
    location: SourceRange = field(default_factory=lambda: SourceRange(0, 0, 0))
    comments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The keyword in lower case (``from``, ``run`` ...)."""
        return self.keyword.lower()


@dataclass(frozen=True)
class Directive:
    """A parser directive from the top of the file (``# syntax=``, ``# escape=``, ``# check=``)."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class ParseWarning:
    """Something BuildKit accepts but warns about; ``code`` is BuildKit's rule name."""

    code: str
    message: str
    line: int
    column: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True)
class ParseResult:
    """What :func:`parse_ast` returns: the instruction nodes in file order."""

    file: str
    nodes: tuple[Node, ...]
    escape: str = "\\"
    directives: tuple[Directive, ...] = ()
    warnings: tuple[ParseWarning, ...] = ()

    @property
    def start_line(self) -> int:
        return self.nodes[0].location.start_line

    @property
    def end_line(self) -> int:
        return self.nodes[-1].location.end_line
