"""Variable expansion and word splitting with the semantics of BuildKit's shell lexer.

Quotes, escapes, ``$VAR``, ``${VAR}`` and the modifiers ``:-  -  :+  +  :?  ?  #  ##
%  %%  /  //`` behave as in ``frontend/dockerfile/shell``; written from its documented
behaviour and test vectors, not translated line by line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from imageforge.dockerfile._gotext import go_quote, is_go_space
from imageforge.dockerfile._pattern import PatternError, WildcardPattern
from imageforge.errors import InvalidArgument

__all__ = ["ExpansionResult", "ShellLex", "expand_word", "expand_words"]

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# ${...} inside ${...}: each level costs a few Python frames. BuildKit has no limit (Go
# stacks grow); 100 levels is far beyond any real Dockerfile and far below the depth at
# which Python would fail with RecursionError (exit 70).
MAX_NESTING = 100


class _Fail(Exception):
    """A lexer error before it is wrapped with the word it happened in."""


@dataclass
class ExpansionResult:
    """One word expanded: the joined ``result``, the split ``words`` and which
    variable names were found (``matched``) or not (``unmatched``)."""

    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


class _Words:
    """Accumulates split words; the buffer is shared by every nesting level of one
    lexer run, as BuildKit's is (so an inner ``${...}`` restarts the current word)."""

    __slots__ = ("buf", "in_word", "words")

    def __init__(self, buf: list[str]) -> None:
        self.buf = buf
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_go_space(ch):
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.buf.append(ch)
            self.in_word = True

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        if text:
            self.buf.append(text)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False
        return self.words


class ShellLex:
    """A configured lexer. ``escape`` is the Dockerfile's escape character.

    ``raw_quotes`` keeps quote characters in the output, ``raw_escapes`` keeps escape
    characters, ``skip_process_quotes`` treats quotes as ordinary characters and
    ``skip_unset_env`` leaves references to unset variables as written."""

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand ``word`` into one string (BuildKit's ``ProcessWord``)."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand ``word`` and split it into words (BuildKit's ``ProcessWords``)."""
        return self.process(word, env).words

    def process(self, word: str, env: Mapping[str, str]) -> ExpansionResult:
        run = _Run(self, word, env)
        try:
            result, words = run.stop_on(_EOF, self.raw_escapes)
        except _Fail as exc:
            raise InvalidArgument(
                f"failed to process {go_quote(word)}: {exc}",
                hint="check the quotes and ${...} forms of this word",
            ) from None
        return ExpansionResult(result, words, run.matched, run.unmatched)


class _Run:
    """The state of one lexer pass over one word."""

    def __init__(self, lex: ShellLex, word: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.src = word
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.wbuf: list[str] = []
        self.depth = 0  # of ${...} being expanded
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()
        self.specials: dict[str, Callable[[], str]] = {"$": self.dollar, "<": self.heredoc}
        if not lex.skip_process_quotes:
            self.specials["'"] = self.single_quote
            self.specials['"'] = self.double_quote

    # -- scanner -------------------------------------------------------------
    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else _EOF

    def next(self) -> str:
        if self.pos < len(self.src):
            ch = self.src[self.pos]
            self.pos += 1
            return ch
        return _EOF

    def get_env(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
            return "", False
        self.matched.add(name)
        return value, True

    # -- words ---------------------------------------------------------------
    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        self.wbuf.clear()
        words = _Words(self.wbuf)
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        escape = self.lex.escape
        try:
            while self.pos < len(self.src):
                ch = self.src[self.pos]
                if stop and ch == stop:
                    self.pos += 1
                    return "".join(result), words.get_words()
                fn = self.specials.get(ch)
                if fn is not None:
                    tmp = fn()
                    result.append(tmp)
                    if ch == "$":
                        words.add_string(tmp)
                    else:
                        words.add_raw_string(tmp)
                    continue
                self.pos += 1
                if ch == escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
            if stop:
                raise _Fail(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get_words()
        finally:
            self.raw_escapes = saved

    def single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise _Fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        escape = self.lex.escape
        while True:
            nxt = self.peek()
            if nxt == _EOF:
                raise _Fail("unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                ch = self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if nxt == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == escape:
                if self.raw_escapes:
                    out.append(ch)
                after = self.peek()
                if after == _EOF:
                    continue
                if after in ('"', "$", escape):
                    ch = self.next()
            out.append(ch)

    def heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        space: list[str] = []
        while self.peek() in ("\t", "\r", " "):
            space.append(self.next())
        return "<<" + "".join(space)

    def name(self) -> str:
        out: list[str] = []
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if not out and ch.isdecimal():
                while self.pos < len(self.src) and self.src[self.pos].isdecimal():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.next()
        if self.depth >= MAX_NESTING:
            raise _Fail(f"substitutions nested more than {MAX_NESTING} deep")
        self.depth += 1
        try:
            return self.braced()
        finally:
            self.depth -= 1

    def braced(self) -> str:
        """What follows ``${``: a name, then ``}`` or a modifier and its word."""
        first = self.peek()
        if first == _EOF:
            raise _Fail("syntax error: missing '}'")
        if first in ("{", "}", ":"):
            raise _Fail("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        chs = ch or "\ufffd"
        null_is_unset = False
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self._replace(name)
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch or "\ufffd"
        elif ch not in ("+", "-", "?", "#", "%"):
            raise _Fail(f"unsupported modifier ({chs}) in substitution")
        raw = ch in ("#", "%")
        if null_is_unset and raw:
            raise _Fail(f"unsupported modifier ({chs}) in substitution")
        try:
            word, _ = self.stop_on("}", raw)
        except _Fail:
            if self.peek() == _EOF:
                raise _Fail("syntax error: missing '}'") from None
            raise
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + chs + word + "}"
        if ch not in ("+", "-", "?", "#", "%"):
            raise _Fail(f"unsupported modifier ({chs}) in substitution")
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = False
        if word and word[0] == ch:
            greedy = True
            word = word[1:]
        if ch == "%":
            return _trim_suffix(word, value, greedy)
        return _trim_prefix(word, value, greedy)

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _ = self.stop_on("/", True)
        except _Fail:
            if self.peek() == _EOF:
                raise _Fail("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.stop_on("}", True)
        except _Fail:
            if self.peek() == _EOF:
                raise _Fail("syntax error: missing '}'") from None
            raise
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        return _pattern(pattern, greedy=True).sub(replacement, value, count=0 if replace_all else 1)


def _pattern(pattern: str, *, greedy: bool) -> WildcardPattern:
    try:
        return WildcardPattern(pattern, greedy=greedy)
    except PatternError as exc:
        raise _Fail(str(exc)) from None


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    end = _pattern(pattern, greedy=greedy).match(value, 0, set())
    return value if end is None else value[end:]


def _reverse_pattern(pattern: str) -> str:
    chars = list(pattern)
    out = [""] * len(chars)
    last = len(chars) - 1
    i = 0
    while i <= last:
        tok = chars[i]
        j = last - i
        if tok == "\\" and i != last:
            out[j - 1] = tok
            out[j] = chars[i + 1]
            i += 2
        else:
            out[j] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # The shortest rightmost match is the shortest leftmost match of the reversed text.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def expand_word(word: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """Expand variables in ``word`` and remove its quotes and escapes, as BuildKit does
    for ENV, LABEL, COPY, ADD, WORKDIR, USER ... (``ProcessWord``)."""
    return ShellLex(escape).process_word(word, env)


def expand_words(word: str, env: Mapping[str, str], *, escape: str = "\\") -> list[str]:
    """Expand ``word`` and split the result on unquoted whitespace (``ProcessWords``)."""
    return ShellLex(escape).process_words(word, env)
