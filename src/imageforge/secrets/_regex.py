"""Regular expressions of custom rules: Go's RE2 syntax (trivy's rules are written in
it) turned into Python's where the two differ.

Python's ``re`` reads most RE2 expressions as they are. The differences trivy's rules
meet: a flag group such as ``(?i)`` in the middle of an expression (RE2 applies it to
the rest of the enclosing group; Python 3.11 refuses it), ``(?<name>...)`` groups,
``\\z``, ``\\Q...\\E`` literals and ASCII classes such as ``[[:alnum:]]``. Anything
Python cannot compile is an :class:`~imageforge.errors.InvalidArgument` naming the rule.
"""

from __future__ import annotations

import re
from typing import Final

from imageforge.errors import InvalidArgument, Location

__all__ = ["compile_go", "compile_path"]

_POSIX: Final = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS: Final = re.compile(r"\[:(\^?)([a-z]+):\]")
_FLAGS: Final = re.compile(r"\(\?([imsU]+)\)")


def _literal(pattern: str, i: int) -> tuple[str, int]:
    end = pattern.find("\\E", i)
    text = pattern[i:] if end < 0 else pattern[i:end]
    return re.escape(text), len(pattern) if end < 0 else end + 2


def _class(pattern: str, i: int) -> tuple[str, int]:
    """A character class starting at ``pattern[i] == "["``: its Python text and the
    index after it."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        if pattern[j] == "\\":
            j += 2
        elif pattern.startswith("[:", j):
            close = pattern.find(":]", j + 2)
            j = close + 2 if close >= 0 else j + 1
        else:
            j += 1
    body = pattern[i : j + 1]

    def posix(m: re.Match[str]) -> str:
        chars = _POSIX.get(m.group(2))
        if chars is None:
            raise ValueError(f"unknown class [:{m.group(2)}:]")
        if m.group(1):
            raise ValueError(f"negated class [:^{m.group(2)}:] is not supported")
        return chars

    return _POSIX_CLASS.sub(posix, body), j + 1


def _translate(pattern: str) -> str:
    """``pattern`` in RE2 syntax as Python syntax."""
    out: list[str] = []
    # For each open group, the flag groups opened inside it (RE2 applies a mid-group
    # ``(?i)`` to the rest of the group, alternatives included): closed with the group,
    # closed and opened again around each ``|``.
    wraps: list[list[str]] = [[]]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                text, i = _literal(pattern, i + 2)
                out.append(text)
                continue
            if nxt == "z":
                out.append("\\Z")
            elif nxt in "pP":
                raise ValueError("Unicode classes (\\p{...}) are not supported")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            text, i = _class(pattern, i)
            out.append(text)
            continue
        if c == "(":
            m = _FLAGS.match(pattern, i)
            if m is not None:
                flags = m.group(1).replace("U", "")
                at_start = not "".join(out) and len(wraps) == 1
                if at_start:
                    out.append(f"(?{flags})" if flags else "")
                else:  # RE2: the flags hold to the end of the enclosing group
                    opener = f"(?{flags}:" if flags else "(?:"
                    out.append(opener)
                    wraps[-1].append(opener)
                i = m.end()
                continue
            if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
                out.append("(?P<")
                i += 3
            else:
                out.append("(")
                i += 1
            wraps.append([])
            continue
        if c == ")":
            closing = wraps.pop() if len(wraps) > 1 else []
            out.append(")" * len(closing) + ")")
            i += 1
            continue
        if c == "|" and wraps[-1]:
            openers = wraps[-1]
            out.append(")" * len(openers) + "|" + "".join(openers))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(wraps[0]))
    return "".join(out)


def compile_go(pattern: str, *, what: str, source: str | None = None) -> re.Pattern[bytes]:
    """``pattern`` (RE2 or Python syntax) compiled over bytes; ``what`` names the rule
    in an error."""
    try:
        return re.compile(_translate(pattern).encode("utf-8"))
    except (re.error, ValueError) as exc:
        raise InvalidArgument(
            f"{what}: {pattern!r} is not a regular expression imageforge can use: {exc}",
            location=Location(source) if source else None,
            hint="write it in Python's or Go's syntax (RE2); Unicode classes are not supported",
        ) from None


def compile_path(pattern: str, *, what: str, source: str | None = None) -> re.Pattern[str]:
    """A path pattern (RE2 or Python syntax) compiled over text."""
    try:
        return re.compile(_translate(pattern))
    except (re.error, ValueError) as exc:
        raise InvalidArgument(
            f"{what}: path {pattern!r} is not a regular expression imageforge can use: {exc}",
            location=Location(source) if source else None,
        ) from None
