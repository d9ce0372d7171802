"""The line-level Dockerfile parser: directives, continuations, comments, heredocs.

Produces :class:`~imageforge.dockerfile._ast.Node` values with the arguments BuildKit's
parser would give (so :func:`dump_ast` reproduces its test ``result`` files).
"""

from __future__ import annotations

import re
from dataclasses import replace

from imageforge.dockerfile._ast import (
    Directive,
    Heredoc,
    Node,
    ParseResult,
    ParseWarning,
    SourceRange,
)
from imageforge.dockerfile._expand import ShellLex
from imageforge.dockerfile._gotext import GO_SPACE
from imageforge.dockerfile._lineparsers import LineSyntaxError, parse_args, split_builder_flags
from imageforge.errors import InvalidArgument, Location

__all__ = ["parse_ast", "parse_heredoc_word"]

_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z", re.S)
_VALID_DIRECTIVES = ("syntax", "escape", "check")
_CMD_SPLIT = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
_NO_ENV: dict[str, str] = {}


def _continuation(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z")


def _is_comment(line: str) -> bool:
    return line.lstrip(GO_SPACE).startswith("#")


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept, like BuildKit's scanner."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


class _Directives:
    def __init__(self) -> None:
        self.done = False
        self.seen: list[Directive] = []
        self.escape = "\\"
        self.continuation = _continuation("\\")

    def feed(self, line: str, number: int, file: str) -> bool:
        """Look at a line for a directive; true when it was one."""
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip(GO_SPACE))
        if m is None or m.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return False
        name, value = m.group(1).lower(), m.group(2)
        if any(d.name == name for d in self.seen):
            raise InvalidArgument(
                f"only one {name} parser directive can be used",
                location=Location(file, number, 1),
                hint="remove the repeated directive",
            )
        if name == "escape":
            if value not in ("`", "\\"):
                raise InvalidArgument(
                    f"invalid escape token '{value}' does not match ` or \\",
                    location=Location(file, number, 1),
                    hint="use '# escape=\\' or '# escape=`'",
                )
            self.escape = value
            self.continuation = _continuation(value)
        self.seen.append(Directive(name, value, number))
        return True


def parse_heredoc_word(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` opens, else None."""
    m = _HEREDOC.match(word)
    if m is None or not m.group(3):
        return None
    rest = m.group(3)
    lex = ShellLex("\\", skip_unset_env=True)
    words = lex.process_words(rest, _NO_ENV)
    if len(words) != 1:
        return None
    lex.raw_quotes = True
    raw = lex.process_words(rest, _NO_ENV)
    if len(raw) != 1:
        raise InvalidArgument(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=name,
        expand=quotes == raw_quotes,
        chomp=m.group(2) == "-",
        fd=int(m.group(1)) if m.group(1) else 0,
    )


def _heredocs_in_line(line: str) -> list[Heredoc]:
    lex = ShellLex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, _NO_ENV)
    except InvalidArgument:
        words = []
    found = []
    for word in words:
        doc = parse_heredoc_word(word)
        if doc is not None:
            found.append(doc)
    return found


def _can_hold_heredoc(node: Node) -> bool:
    if node.name == "onbuild" and node.child is not None:
        node = node.child
    return node.name in _HEREDOC_KEYWORDS and not node.json


# ONBUILD ONBUILD ...: BuildKit's parser nests them (its dispatcher refuses the chain).
# Deeper than this would exhaust Python's stack in this parser and in dump_ast.
MAX_ONBUILD_NESTING = 100


def _node_from_line(
    line: str, escape: str, location: SourceRange, comments: list[str], depth: int = 0
) -> Node:
    parts = _CMD_SPLIT.split(line.strip(GO_SPACE), maxsplit=1)
    keyword = parts[0]
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = split_builder_flags(parts[1], escape)
        rest = rest.strip(GO_SPACE)
    args, is_json, child_line = parse_args(keyword, rest, escape)
    child = None
    if child_line is not None:
        if depth >= MAX_ONBUILD_NESTING:
            raise LineSyntaxError(f"ONBUILD nested more than {MAX_ONBUILD_NESTING} deep")
        child = _node_from_line(child_line, escape, location, [], depth + 1)
    return Node(
        keyword=keyword,
        flags=tuple(flags),
        args=args,
        child=child,
        json=is_json,
        original=line,
        location=location,
        comments=tuple(comments),
    )


def _error(
    message: str, file: str, line: int, column: int = 1, hint: str | None = None
) -> InvalidArgument:
    return InvalidArgument(message, location=Location(file, line, column), hint=hint)


def parse_ast(source: str | bytes, *, file: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile text into instruction nodes, exactly as BuildKit's parser splits
    and groups it. Raises :class:`~imageforge.errors.InvalidArgument` (with the
    file, line and column) for text BuildKit refuses."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "surrogateescape")
    if source.startswith("\ufeff"):
        source = source[1:]
    lines = _split_lines(source)
    d = _Directives()
    nodes: list[Node] = []
    warnings: list[ParseWarning] = []
    comments: list[str] = []
    current = 0
    i, n = 0, len(lines)
    while i < n:
        raw = lines[i]
        i += 1
        if _is_comment(raw):
            comment = raw.lstrip(GO_SPACE)[1:].strip(GO_SPACE)
            if comment:
                comments.append(comment)
            else:
                comments = []
        text = raw.rstrip("\r\n")
        stripped = text.lstrip(GO_SPACE)
        column = len(text) - len(stripped) + 1
        if d.feed(stripped, current + 1, file) and comments:
            comments.pop()
        current += 1
        start = current
        body = "" if _is_comment(stripped) else stripped
        body, eol = _trim_continuation(body, d)
        if eol and body == "":
            continue
        buf = [body]
        empty_continuation = False
        while not eol and i < n:
            raw = lines[i]
            i += 1
            current += 1
            if _is_comment(raw):
                continue
            text = raw.rstrip("\r\n")
            if text.lstrip(GO_SPACE) == "":
                empty_continuation = True
                continue
            text, eol = _trim_continuation(text, d)
            buf.append(text)
        line = "".join(buf)
        if empty_continuation:
            warnings.append(
                ParseWarning(
                    "NoEmptyContinuation",
                    "Empty continuation line found in: " + line,
                    current,
                )
            )
        location = SourceRange(start, current, column)
        try:
            node = _node_from_line(line, d.escape, location, comments)
        except LineSyntaxError as exc:
            raise _error(str(exc), file, start, column) from None
        if _can_hold_heredoc(node) and "<<" in line:
            docs = []
            for doc in _heredocs_in_line(line):
                content: list[str] = []
                terminated = False
                while i < n:
                    body_line = lines[i]
                    i += 1
                    current += 1
                    candidate = body_line.rstrip("\r\n")
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    content.append(body_line)
                if not terminated:
                    raise _error(
                        f"unterminated heredoc {doc.name}",
                        file,
                        start,
                        column,
                        hint=f"end the here-document with a line holding only {doc.name}",
                    )
                docs.append(Heredoc(doc.name, "".join(content), doc.expand, doc.chomp, doc.fd))
            location = SourceRange(start, current, column)
            node = replace(node, heredocs=tuple(docs), location=location)
        nodes.append(node)
        comments = []
    if not nodes:
        raise _error(
            "file with no instructions",
            file,
            max(current, 1),
            1,
            hint="a Dockerfile needs at least a FROM instruction",
        )
    return ParseResult(
        file=file,
        nodes=tuple(nodes),
        escape=d.escape,
        directives=tuple(d.seen),
        warnings=tuple(warnings),
    )


def _trim_continuation(line: str, d: _Directives) -> tuple[str, bool]:
    if d.continuation.search(line):
        return d.continuation.sub(r"\1", line), False
    return line, True
