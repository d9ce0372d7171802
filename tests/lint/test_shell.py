"""The RUN-line word splitter: the same words and operators as the standard library's
shlex in the configuration lint reads shell with."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from imageforge.lint._shell import _split, commands


def _shlex(text: str) -> list[str] | str:
    lex = shlex.shlex(text, posix=True, punctuation_chars=";&|()\n")
    lex.whitespace = " \t\r"
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError as exc:
        return str(exc)


def _ours(text: str) -> list[str] | str:
    try:
        return _split(text)
    except ValueError as exc:
        return str(exc)


_SHELLISH = st.text(alphabet="ab $=-\\'\"\t\r\n;&|()#`x", max_size=24)


@settings(max_examples=3000, deadline=None)
@given(_SHELLISH)
def test_words_and_errors_are_shlex_s(text: str) -> None:
    assert _ours(text) == _shlex(text)


def test_quotes_escapes_and_operator_runs() -> None:
    line = 'a=\'x y\'"\\$z\\"" \\ b;;c&&d||(e)|f\n""'
    assert _ours(line) == _shlex(line)
    assert _ours("echo 'open") == _shlex("echo 'open")
    assert _ours("echo trailing\\") == _shlex("echo trailing\\")


def test_commands_follow_the_operators() -> None:
    found = [(c.program, c.then) for c in commands("set -e; apt-get update && pip install x | tee")]
    assert found == [("set", ";"), ("apt-get", "&&"), ("pip", "|"), ("tee", "")]
