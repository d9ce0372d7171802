"""Per-instruction argument parsers: how the rest of a line becomes the argument list.

Each keeps BuildKit's rules (see the corpus README): JSON arrays for exec forms,
``key=value`` pairs for ENV/LABEL, quote-aware words for ARG, plain whitespace
splitting for FROM/EXPOSE, the whole rest for USER/WORKDIR/...
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from imageforge.dockerfile._gotext import GO_SPACE, go_quote, is_go_space

__all__ = [
    "Args",
    "LineSyntaxError",
    "NOT_STRING_ARRAY",
    "parse_json_array",
    "parse_words",
    "split_builder_flags",
    "split_whitespace",
]

WHITESPACE = re.compile(r"[\t\v\f\r ]+")
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class LineSyntaxError(Exception):
    """An argument list BuildKit refuses; the parser adds the location."""


# (arguments, is_json, child_line): child_line is the sub-instruction of ONBUILD.
Args = tuple[tuple[str, ...], bool, str | None]


def split_whitespace(rest: str) -> tuple[str, ...]:
    if rest == "":
        return ()
    return tuple(WHITESPACE.split(rest))


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def parse_json_array(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when ``rest`` is not one.

    Raises :class:`LineSyntaxError` for valid JSON that is not all strings."""
    rest = rest.lstrip(GO_SPACE)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except ValueError:
        return None
    except RecursionError:
        # Arrays nested deeper than Python's parser goes: BuildKit's decoder (up to
        # 10000 levels) reads them and refuses them as not an array of strings.
        raise LineSyntaxError(NOT_STRING_ARRAY) from None
    if not isinstance(value, list):  # pragma: no cover - starts with "["
        return None
    if not all(isinstance(v, str) for v in value):
        raise LineSyntaxError(NOT_STRING_ARRAY)
    return tuple(value)


def parse_words(rest: str, escape: str) -> list[str]:
    """Whitespace-separated words where quoted runs do not split; quotes and escape
    characters are kept (ARG, and deciding the ENV/LABEL form)."""
    spaces, word, quoted = 0, 1, 2
    words: list[str] = []
    buf: list[str] = []
    phase = spaces
    quote = ""
    blank_ok = False
    i, n = 0, len(rest)
    while True:
        if phase == spaces:
            if i == n:
                break
            if is_go_space(rest[i]):
                i += 1
                continue
            phase = word
        if i == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        ch = rest[i]
        if phase == word:
            if is_go_space(ch):
                phase = spaces
                if blank_ok or buf:
                    words.append("".join(buf))
                buf.clear()
                blank_ok = False
                i += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = quoted
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                buf.append(ch)
                i += 1
                ch = rest[i]
            buf.append(ch)
            i += 1
            continue
        if ch == quote:
            phase = word
        if ch == escape and quote != "'":
            if i + 1 == n:
                phase = word
                i += 1
                continue
            buf.append(ch)
            i += 1
            ch = rest[i]
        buf.append(ch)
        i += 1
    return words


def split_builder_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Take the leading ``--flag[=value]`` words off ``line``: (rest, flags).

    Quotes inside a flag group words and are removed; a lone ``--`` ends the flags."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    blank_ok = False
    in_word = False
    i, n = 0, len(line)
    while True:
        if not in_word:
            while i < n and is_go_space(line[i]):
                i += 1
            if i == n:
                return "", words
            if not line.startswith("--", i):
                return line[i:], words
            in_word = True
        if i == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            return "", words
        ch = line[i]
        if quote:
            if ch == quote:
                quote = ""
                i += 1
                continue
            if ch == escape:
                if i + 1 == n:
                    quote = ""
                    i += 1
                    continue
                i += 1
                ch = line[i]
            buf.append(ch)
            i += 1
            continue
        if is_go_space(ch):
            word = "".join(buf)
            in_word = False
            if word == "--":
                return line[i:], words
            if blank_ok or word:
                words.append(word)
            buf.clear()
            blank_ok = False
            continue
        if ch in ("'", '"'):
            quote = ch
            blank_ok = True
            i += 1
            continue
        if ch == escape:
            if i + 1 == n:
                i += 1
                continue
            i += 1
            ch = line[i]
        buf.append(ch)
        i += 1


# -- the dispatch table ----------------------------------------------------


def _ignore(rest: str, escape: str) -> Args:
    return ("",), False, None


def _sub_command(rest: str, escape: str) -> Args:
    if rest == "":
        return (), False, None
    return (), False, rest


def _name_val(key: str) -> Callable[[str, str], Args]:
    def parse(rest: str, escape: str) -> Args:
        words = parse_words(rest, escape)
        if not words:
            return (), False, None
        if "=" not in words[0]:
            parts = WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise LineSyntaxError(f"{key} must have two arguments")
            return (parts[0], parts[1], ""), False, None
        out: list[str] = []
        for word in words:
            if "=" not in word:
                raise LineSyntaxError(
                    f"Syntax error - can't find = in {go_quote(word)}. "
                    "Must be of the form: name=value"
                )
            name, value = word.split("=", 1)
            out += [name, value, "="]
        return tuple(out), False, None

    return parse


def _name_or_name_val(rest: str, escape: str) -> Args:
    return tuple(parse_words(rest, escape)), False, None


def _whitespace_delimited(rest: str, escape: str) -> Args:
    return split_whitespace(rest), False, None


def _string(rest: str, escape: str) -> Args:
    return ((rest,) if rest else ()), False, None


def _maybe_json(rest: str, escape: str) -> Args:
    if rest == "":
        return (), False, None
    arr = parse_json_array(rest)
    if arr is not None:
        return arr, True, None
    return (rest,), False, None


def _maybe_json_to_list(rest: str, escape: str) -> Args:
    arr = parse_json_array(rest)
    if arr is not None:
        return arr, True, None
    return split_whitespace(rest), False, None


def _health(rest: str, escape: str) -> Args:
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return (), False, None
    nxt = sep
    while nxt < len(rest) and is_go_space(rest[nxt]):
        nxt += 1
    args, is_json, _ = _maybe_json(rest[nxt:], escape)
    return (rest[:sep], *args), is_json, None


LINE_PARSERS: dict[str, Callable[[str, str], Args]] = {
    "add": _maybe_json_to_list,
    "arg": _name_or_name_val,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": _name_val("ENV"),
    "expose": _whitespace_delimited,
    "from": _whitespace_delimited,
    "healthcheck": _health,
    "label": _name_val("LABEL"),
    "maintainer": _string,
    "onbuild": _sub_command,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_to_list,
    "workdir": _string,
}


def parse_args(keyword: str, rest: str, escape: str) -> Args:
    return LINE_PARSERS.get(keyword.lower(), _ignore)(rest, escape)
