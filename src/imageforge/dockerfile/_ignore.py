"""``.dockerignore`` with Docker's semantics, hand-written.

There is no Python library with these exact semantics: gitignore-style libraries
(pathspec and friends) match unanchored names, treat a trailing ``/`` as "directories
only" and use ``[!...]`` for negation, all of which differ from Docker. So this module
re-implements the rules of moby/patternmatcher and its ignore-file reader from the
written summary in ``shared/corpus/dockerignore-semantics.md``; no code was copied.

Reading a file (:func:`parse_dockerignore`): a UTF-8 BOM is dropped, a line is a
comment only when its first byte is ``#``, lines are trimmed, ``!`` marks an exception
(re-inclusion), the rest is cleaned like Go's ``filepath.Clean`` and one leading ``/``
is removed. Compiling (:func:`compile_patterns`): a bare ``!`` and malformed patterns
are errors, found when the file is loaded and named by file and line. Matching: Go's
``filepath.Match`` syntax with ``**``; a pattern *hits* a path when it matches the path
or any ancestor of it, and the last pattern that hits decides: ignored for a normal
pattern, kept for an exception. Each pattern is compiled once, to a string test (exact,
prefix, suffix) or to one Python regular expression.

Deliberate choices where Docker's behaviour comes from Go's regexp engine:

- ``\\`` before punctuation is a literal of that character. ``\\d \\D \\s \\S \\w \\W``,
  ``\\b \\B``, ``\\A \\z`` and ``\\a \\f \\n \\r \\t \\v`` mean what they mean in Go's
  regexp (ASCII classes), as in Docker, where the escape reaches the regexp unchanged.
  Other escapes of letters or digits (``\\x41``, ``\\pL``, ``\\Q``, octal) are rejected
  as unsupported; Docker accepts some of them.
- ``*`` and ``?`` inside a ``[...]`` class are plain members of the class here. Docker
  rewrites them into regexp fragments inside the brackets, which gives surprising sets.
- POSIX classes such as ``[[:alpha:]]`` are read as ``filepath.Match`` reads them
  (a class of the characters ``[:alph``, then a literal ``]``), not as RE2 does.
- A reversed range such as ``[z-a]`` is an error when the file is loaded; Docker
  reports it only when the pattern is first matched.
- A trailing lone ``\\`` is an error, as Go's ``filepath.Match`` syntax check makes it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imageforge.errors import InvalidArgument, Location, NotFound

__all__ = [
    "DockerIgnore",
    "IgnorePattern",
    "PatternKind",
    "clean_path",
    "compile_patterns",
    "escape_pattern",
    "find_dockerignore",
    "load_dockerignore",
    "parse_dockerignore",
    "read_dockerignore",
]

# Go's unicode.IsSpace set, which strings.TrimSpace trims (Python's str.strip differs).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501
_BOM = "\ufeff"
_WILDCARDS = frozenset("*?[]^\\")
_HINT = "fix or remove this line; .dockerignore uses Go filepath.Match syntax plus **"


def _trim(text: str) -> str:
    return text.strip(_GO_SPACE)


def clean_path(path: str) -> str:
    """Go's ``filepath.Clean`` on a ``/``-separated path: collapse ``//``, drop ``.``,
    resolve ``x/..``, drop a trailing ``/``; an empty result is ``.``."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


class PatternKind(enum.Enum):
    """How a pattern is tested, chosen as patternmatcher chooses it."""

    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


class _BadPattern(Exception):
    """A syntax error in one pattern; turned into InvalidArgument with a Location."""


# Escapes of letters that Go's regexp gives a meaning and we reproduce.
_ESCAPES_OUTSIDE = {
    "d": r"\d",
    "D": r"\D",
    "s": r"\s",
    "S": r"\S",
    "w": r"\w",
    "W": r"\W",
    "b": r"\b",
    "B": r"\B",
    "A": r"\A",
    "z": r"\Z",
}
_CONTROL = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_CLASS_SHORTHANDS = {"d": r"\d", "D": r"\D", "s": r"\s", "S": r"\S", "w": r"\w", "W": r"\W"}


def _escape_outside(ch: str) -> str:
    if ch.isascii() and not ch.isalnum():
        return re.escape(ch)
    if ch in _ESCAPES_OUTSIDE:
        return _ESCAPES_OUTSIDE[ch]
    if ch in _CONTROL:
        return re.escape(_CONTROL[ch])
    raise _BadPattern(f"unsupported escape sequence \\{ch}")


def _class_member(text: str, j: int) -> tuple[str, str | None, int]:
    """One member of a ``[...]`` class at ``text[j]``, checked as Go's ``getEsc`` checks
    it: returns (regex text, the literal character or None for a shorthand, next j)."""
    n = len(text)
    if j >= n or text[j] in "-]":
        raise _BadPattern("malformed character class")
    if text[j] == "\\":
        j += 1
        if j >= n:
            raise _BadPattern("unterminated character class")
        ch = text[j]
        j += 1
        if j >= n:
            raise _BadPattern("unterminated character class")
        if ch.isascii() and not ch.isalnum():
            return re.escape(ch), ch, j
        if ch in _CLASS_SHORTHANDS:
            return _CLASS_SHORTHANDS[ch], None, j
        if ch in _CONTROL:
            return re.escape(_CONTROL[ch]), _CONTROL[ch], j
        raise _BadPattern(f"unsupported escape sequence \\{ch} in a character class")
    ch = text[j]
    if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        raise _BadPattern("invalid UTF-8 in a character class")
    j += 1
    if j >= n:
        raise _BadPattern("unterminated character class")
    return re.escape(ch), ch, j


def _class(text: str, i: int) -> tuple[str, int]:
    """The class starting at ``text[i] == '['``: its regex and the index after ``]``."""
    j = i + 1
    out = ["["]
    if j < len(text) and text[j] == "^":
        out.append("^")
        j += 1
    members = 0
    while True:
        if j < len(text) and text[j] == "]" and members > 0:
            out.append("]")
            return "".join(out), j + 1
        lo_re, lo, j = _class_member(text, j)
        if text[j] == "-":
            hi_re, hi, j = _class_member(text, j + 1)
            if lo is None or hi is None:
                raise _BadPattern("a class shorthand cannot end a range")
            if ord(lo) > ord(hi):
                raise _BadPattern(f"invalid character class range {lo}-{hi}")
            out.append(f"{lo_re}-{hi_re}")
        else:
            out.append(lo_re)
        members += 1


@dataclass(frozen=True)
class _Compiled:
    kind: PatternKind
    literal: str  # the exact path, the prefix, or the suffix
    regex: re.Pattern[str] | None


def _compile(text: str) -> _Compiled:
    """Compile one cleaned pattern (without ``!``): choose its kind as patternmatcher
    does and build the regular expression for the regexp kind."""
    kind = PatternKind.EXACT
    parts: list[str] = []
    i, n, first = 0, len(text), True
    while i < n:
        ch = text[i]
        if ch == "*" and i + 1 < n and text[i + 1] == "*":
            i += 2
            if i < n and text[i] == "/":
                i += 1  # "**/" is "**"
            if i >= n:
                if kind is PatternKind.EXACT:
                    kind = PatternKind.PREFIX
                else:
                    parts.append(".*")
                    kind = PatternKind.REGEXP
            else:
                parts.append("(?:.*/)?")  # any number of directories, even none
                kind = PatternKind.REGEXP
            if first:
                kind = PatternKind.SUFFIX
        elif ch == "*":
            parts.append("[^/]*")
            kind = PatternKind.REGEXP
            i += 1
        elif ch == "?":
            parts.append("[^/]")
            kind = PatternKind.REGEXP
            i += 1
        elif ch == "\\":
            if i + 1 >= n:
                raise _BadPattern("trailing backslash")
            parts.append(_escape_outside(text[i + 1]))
            kind = PatternKind.REGEXP
            i += 2
        elif ch == "[":
            cls, i = _class(text, i)
            parts.append(cls)
            kind = PatternKind.REGEXP
        elif ch == "]":
            parts.append(r"\]")
            kind = PatternKind.REGEXP
            i += 1
        elif ch == "^":
            parts.append("^")  # reaches Docker's regexp unescaped: an anchor
            i += 1
        else:
            parts.append(re.escape(ch))
            i += 1
        first = False
    if kind is PatternKind.EXACT:
        return _Compiled(kind, text, None)
    if kind is PatternKind.PREFIX:
        return _Compiled(kind, text[:-2], None)
    if kind is PatternKind.SUFFIX:
        return _Compiled(kind, text[2:], None)
    return _Compiled(kind, "", re.compile("".join(parts), re.ASCII))


@dataclass(frozen=True)
class IgnorePattern:
    """One compiled pattern. ``text`` is the cleaned pattern without ``!``;
    ``exception`` is True for a ``!`` line (a re-inclusion)."""

    text: str
    exception: bool = False
    line: int = 0
    source: str | None = None
    _compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", _compile(self.text))

    @property
    def kind(self) -> PatternKind:
        return self._compiled.kind

    @property
    def has_wildcards(self) -> bool:
        """True unless the pattern is a plain path, optionally ending in ``/*`` or ``/**``
        (BuildKit's test for whether an exception may apply anywhere)."""
        stem = self.text.removesuffix("/**").removesuffix("/*")
        return any(ch in _WILDCARDS for ch in stem)

    def matches(self, path: str) -> bool:
        """Whether this pattern alone matches ``path`` itself (not its ancestors);
        ``path`` is clean, relative to the context, ``/``-separated."""
        c = self._compiled
        if c.kind is PatternKind.EXACT:
            return path == c.literal
        if c.kind is PatternKind.PREFIX:
            return path.startswith(c.literal)
        if c.kind is PatternKind.SUFFIX:
            suffix = c.literal
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert c.regex is not None
        return c.regex.fullmatch(path) is not None

    def hits(self, path: str) -> bool:
        """Whether this pattern matches ``path`` or any of its ancestor directories."""
        if self.matches(path):
            return True
        end = path.find("/")
        while end != -1:
            if self.matches(path[:end]):
                return True
            end = path.find("/", end + 1)
        return False

    def __str__(self) -> str:
        return ("!" if self.exception else "") + self.text


@dataclass(frozen=True)
class DockerIgnore:
    """An ordered list of patterns: the contents of one ignore file (or none)."""

    patterns: tuple[IgnorePattern, ...] = ()
    source: str | None = None

    @property
    def has_exceptions(self) -> bool:
        return any(p.exception for p in self.patterns)

    @property
    def lines(self) -> list[str]:
        """The patterns as they would be written back (cleaned, with ``!``)."""
        return [str(p) for p in self.patterns]

    def is_ignored(self, path: str) -> bool:
        """Whether ``path`` (relative to the context) is left out of the context: the
        last pattern that hits it or an ancestor decides. The root is never ignored."""
        if not self.patterns:
            return False
        path = clean_path(path.strip("/") or ".")
        if path == ".":
            return False
        for pattern in reversed(self.patterns):
            if pattern.hits(path):
                return not pattern.exception
        return False

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether an exception could keep something below the ignored ``directory``:
        BuildKit's rule for when a walker must still descend into it."""
        exceptions = [p for p in self.patterns if p.exception]
        if not exceptions:
            return False
        if any(p.has_wildcards for p in exceptions):
            return True
        prefix = directory + "/"
        return any(p.text.startswith(prefix) for p in exceptions)

    def extended(self, lines: Iterable[str], *, source: str | None = None) -> DockerIgnore:
        """These patterns followed by ``lines`` (read as ignore-file lines)."""
        more = parse_dockerignore("\n".join(lines), source=source or self.source or "<lines>")
        return DockerIgnore(self.patterns + more.patterns, self.source)


def _bad(source: str, line: int, text: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"bad pattern {text!r}: {why}",
        location=Location(source, line),
        hint=_HINT,
    )


def _build(entries: Iterable[tuple[int, str]], source: str) -> DockerIgnore:
    """patternmatcher.New: trim, clean, split off ``!``, check and compile each pattern."""
    patterns: list[IgnorePattern] = []
    for line, raw in entries:
        text = _trim(raw)
        if not text:
            continue
        text = clean_path(text)
        exception = text.startswith("!")
        if exception:
            if len(text) == 1:
                raise InvalidArgument(
                    'illegal exclusion pattern: "!"',
                    location=Location(source, line),
                    hint="write the path to re-include after the '!', or remove the line",
                )
            text = text[1:]
        try:
            patterns.append(IgnorePattern(text, exception, line, source))
        except _BadPattern as exc:
            raise _bad(source, line, raw, str(exc)) from None
        except re.error as exc:  # a pattern our translation did not foresee
            raise _bad(source, line, raw, f"not a valid pattern ({exc})") from None
    return DockerIgnore(tuple(patterns), source)


def compile_patterns(patterns: Sequence[str], *, source: str = "<patterns>") -> DockerIgnore:
    """Compile patterns given directly (as patternmatcher.New takes them): no comment
    handling and no leading ``/`` stripping; ``!`` marks an exception."""
    return _build(((i + 1, p) for i, p in enumerate(patterns)), source)


def _read_lines(text: str) -> list[tuple[int, str]]:
    """ignorefile.ReadAll: the patterns of a file with their 1-based line numbers."""
    out: list[tuple[int, str]] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        if number == 1:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        pattern = _trim(line)
        if not pattern:
            continue
        exception = pattern.startswith("!")
        if exception:
            pattern = _trim(pattern[1:])
        if pattern:
            pattern = clean_path(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append((number, "!" + pattern if exception else pattern))
    return out


def parse_dockerignore(text: str, *, source: str = ".dockerignore") -> DockerIgnore:
    """Read the contents of an ignore file; ``source`` names it in error messages.
    Raises :class:`InvalidArgument` (with file and line) for a bad pattern."""
    return _build(_read_lines(text), source)


def read_dockerignore(path: str | Path) -> DockerIgnore:
    """Read and compile an ignore file; bytes that are not UTF-8 are kept as they are
    (as file names with such bytes are)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"ignore file {path} does not exist") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read ignore file {path}: {exc.strerror}") from None
    return parse_dockerignore(data.decode("utf-8", "surrogateescape"), source=str(path))


def find_dockerignore(context: str | Path, dockerfile: str | Path | None = None) -> Path | None:
    """The ignore file BuildKit would use: ``<Dockerfile>.dockerignore`` next to the
    Dockerfile if it exists, else ``<context>/.dockerignore`` if it exists, else None."""
    if dockerfile is not None:
        specific = Path(str(dockerfile) + ".dockerignore")
        if specific.is_file():
            return specific
    default = Path(context) / ".dockerignore"
    return default if default.is_file() else None


def load_dockerignore(context: str | Path, dockerfile: str | Path | None = None) -> DockerIgnore:
    """The patterns in effect for a build of ``context`` with ``dockerfile``; no
    patterns (nothing ignored) when there is no ignore file."""
    found = find_dockerignore(context, dockerfile)
    return read_dockerignore(found) if found is not None else DockerIgnore()


def escape_pattern(path: str) -> str:
    """A pattern line that matches exactly ``path`` (relative to the context):
    wildcards, backslashes, ``^`` and a leading ``#`` or ``!`` are escaped, and white
    space at either end is put in a class so the reader does not trim it."""
    out: list[str] = []
    last = len(path) - 1
    for i, ch in enumerate(path):
        if ch in "*?[]\\^":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch in _GO_SPACE and i in (0, last):
            out.append(f"[{ch}]")  # the reader would trim it; a class keeps it
        elif i == 0 and ch in "#!":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
