"""Wildcard patterns of ${VAR#...}, ${VAR%...} and ${VAR/...}: the same answers as the
regular expression BuildKit builds from them, in linear time (found by a hand-made probe
beside the fuzz harness: Python's backtracking ``re`` took minutes on a 20-byte pattern)."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from imageforge.dockerfile import expand_word, parse, resolve
from imageforge.dockerfile._pattern import WildcardPattern

_SPECIAL = frozenset("[]{}.+()|^$")


def _regex(pattern: str, *, greedy: bool) -> re.Pattern[str]:
    """The regular expression BuildKit (and imageforge before the fix) builds: the oracle."""
    out = []
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(".*" if greedy else ".*?")
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            out.append("\\" + pattern[i])
            i += 1
        else:
            out.append("\\" + tok if tok in _SPECIAL else tok)
    return re.compile("".join(out))


# Small alphabets so that matches, near misses and newlines are all common.
patterns = st.lists(
    st.sampled_from(["a", "b", "*", "?", "\\*", "\\?", "\\\\", ".", "\n"]), max_size=7
).map("".join)
values = st.text(alphabet="ab*?.\\\n", max_size=10)


@settings(max_examples=400)
@given(pattern=patterns, value=values, greedy=st.booleans())
def test_an_anchored_match_ends_where_the_regular_expression_ends(
    pattern: str, value: str, greedy: bool
) -> None:
    m = _regex(pattern, greedy=greedy).match(value)
    got = WildcardPattern(pattern, greedy=greedy).match(value, 0, set())
    assert got == (m.end() if m else None)


@settings(max_examples=400)
@given(pattern=patterns, value=values)
def test_replacing_gives_what_re_sub_gives(pattern: str, value: str) -> None:
    regex = _regex(pattern, greedy=True)
    compiled = WildcardPattern(pattern, greedy=True)
    assert compiled.sub("<>", value) == regex.sub(lambda _m: "<>", value)
    assert compiled.sub("<>", value, count=1) == regex.sub(lambda _m: "<>", value, count=1)


def test_a_pattern_that_makes_a_regex_backtrack_is_matched_at_once() -> None:
    env = {"A": "a" * 2000}
    hostile = "*a" * 8 + "*b"
    started = time.monotonic()
    assert expand_word("${A#" + hostile + "}", env) == env["A"]  # no match: unchanged
    assert expand_word("${A##" + hostile + "}", env) == env["A"]
    assert expand_word("${A%" + hostile + "}", env) == env["A"]
    assert expand_word("${A/" + hostile + "/x}", env) == env["A"]
    assert expand_word("${A//" + hostile + "/x}", env) == env["A"]
    assert time.monotonic() - started < 5  # the regex took 80 s for 4 stars and 200 a


def test_a_hostile_pattern_in_a_dockerfile_resolves_quickly() -> None:
    df = parse(b"FROM scratch\nARG A\nENV B=${A#*a*a*a*a*a*a*b}\n")
    started = time.monotonic()
    resolution = resolve(df, build_args={"A": "a" * 300})
    assert time.monotonic() - started < 5
    env = resolution.stages[0].env
    assert env["B"] == "a" * 300
