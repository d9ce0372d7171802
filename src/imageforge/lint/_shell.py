"""Just enough shell to read RUN lines: split a command line into simple commands and
say how each is joined to the next. Hand-written (no library parses POSIX shell into
commands): words split as :class:`shlex.shlex` splits them, by a faster equivalent;
unbalanced quotes fall back to splitting on blanks.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from imageforge.dockerfile import Run

__all__ = ["Command", "commands", "run_text", "substitutions"]

_PUNCT = ";&|()\n"
_OPERATORS = {"&&", "||", ";", "|", "&", ";;", "|&", "(", ")", "\n"}
# Reserved words that open a compound command or a branch: the simple command is what
# follows them (``if apt-get install ...; then apt-get ...; fi``). Closers (``}``,
# ``fi``, ``done``) stay commands of their own: ``{ ...; } | tee`` pipes the group.
_LEADING = {"if", "then", "else", "elif", "do", "while", "until", "!", "{"}


@dataclass(frozen=True)
class Command:
    """One simple command: its words (leading ``VAR=x`` assignments and ``sudo``/``env``
    wrappers kept), and the operator that follows it (``|``, ``&&``, ... or "")."""

    words: tuple[str, ...]
    then: str = ""

    @functools.cached_property
    def program(self) -> str:
        """The command name, past assignments, ``sudo``/``env`` and a path prefix
        (worked out once: every rule asks)."""
        for w in self.words:
            if "=" in w and not w.startswith("-") and w.split("=", 1)[0].isidentifier():
                continue
            if w in ("sudo", "env", "exec", "time", "nohup", "command"):
                continue
            if w.startswith("-"):
                continue
            return w.rsplit("/", 1)[-1]
        return ""

    def args_after(self, *path: str) -> tuple[str, ...] | None:
        """The words after ``path`` (e.g. ``("apt-get", "install")``), skipping options
        between them; None when this command is not that."""
        words = list(self.words)
        try:
            i = next(k for k, w in enumerate(words) if w.rsplit("/", 1)[-1] == path[0])
        except StopIteration:
            return None
        rest = words[i + 1 :]
        for part in path[1:]:
            for k, w in enumerate(rest):
                if w == part:
                    rest = rest[k + 1 :]
                    break
                if not w.startswith("-"):
                    return None
            else:
                return None
        return tuple(rest)

    def has(self, *flags: str) -> bool:
        return any(w == f or w.startswith(f + "=") for w in self.words for f in flags)


def run_text(run: Run) -> str:
    """The shell text a RUN executes: its command line plus heredoc bodies."""
    if run.exec_form:
        text = " ".join(shlex.quote(a) for a in run.args)
    else:
        text = " ".join(run.args)
    bodies = [h.content for h in run.heredocs]
    return "\n".join([text, *bodies]) if bodies else text


_BLANK = " \t\r"
_PLAIN = re.compile(r"[^ \t\r;&|()\n'\"\\]+")  # a run of ordinary word characters
_PUNCT_RUN = re.compile(r"[;&|()\n]+")
_IN_DOUBLE = re.compile(r'[^"\\]+')


def _split(text: str) -> list[str]:
    """The words and operator runs of ``text`` exactly as :class:`shlex.shlex` gives them
    with ``posix=True``, ``punctuation_chars=_PUNCT``, blanks (space, tab, CR) only,
    ``whitespace_split`` and no comment character: runs of plain characters taken by
    regular expressions instead of shlex's loop over characters, which was most of
    lint's rule time. An unterminated quote or a trailing backslash raises ValueError,
    as shlex does."""
    out: list[str] = []
    parts: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _BLANK or c in _PUNCT:
            if in_word:
                out.append("".join(parts))
                parts, in_word = [], False
            if c in _BLANK:
                i += 1
            else:  # a run of operator characters is one token (";;", "&&", ")\n")
                m = _PUNCT_RUN.match(text, i)
                assert m is not None
                out.append(m.group())
                i = m.end()
            continue
        in_word = True
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError("No closing quotation")
            parts.append(text[i + 1 : end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("No closing quotation")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    if i + 1 >= n:
                        raise ValueError("No escaped character")
                    nxt = text[i + 1]
                    parts.append(nxt if nxt in '\\"' else "\\" + nxt)
                    i += 2
                    continue
                m = _IN_DOUBLE.match(text, i)
                assert m is not None
                parts.append(m.group())
                i = m.end()
        elif c == "\\":
            if i + 1 >= n:
                raise ValueError("No escaped character")
            parts.append(text[i + 1])
            i += 2
        else:
            m = _PLAIN.match(text, i)
            assert m is not None
            parts.append(m.group())
            i = m.end()
    if in_word:
        out.append("".join(parts))
    return out


def _tokens(text: str) -> list[str]:
    # Whole-line comments (heredoc bodies); a "#" inside a line is left to the words.
    lines = [ln for ln in text.replace("\\\n", " ").split("\n") if not ln.lstrip().startswith("#")]
    try:
        return _split("\n".join(lines))
    except ValueError:
        return text.replace("&&", " && ").replace(";", " ; ").replace("|", " | ").split()


def substitutions(word: str) -> Iterator[str]:
    """The text of each ``$(...)`` command substitution in ``word`` (outermost first,
    then the ones nested in it); backquotes are not followed."""
    start = 0
    while (i := word.find("$(", start)) >= 0:
        depth, k = 1, i + 2
        while k < len(word) and depth:
            depth += {"(": 1, ")": -1}.get(word[k], 0)
            k += 1
        inner = word[i + 2 : k - 1] if depth == 0 else word[i + 2 :]
        if not inner.startswith("("):  # $((...)) is arithmetic
            yield inner
            yield from substitutions(inner)
        start = k


def commands(text: str) -> Iterator[Command]:
    """The simple commands of ``text`` in order."""
    words: list[str] = []
    for tok in _tokens(text):
        if tok in _OPERATORS or (tok and all(ch in _PUNCT for ch in tok)):
            if words:
                yield Command(tuple(words), tok.strip())
                words = []
            continue
        if not words and tok in _LEADING:
            continue
        words.append(tok)
    if words:
        yield Command(tuple(words))
