"""Properties of expansion that must hold for every input, checked with hypothesis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from imageforge.dockerfile import expand_word, expand_words

# Words without anything the lexer treats specially: no $, quotes, escape, spaces, <.
plain = st.text(
    alphabet=st.characters(
        blacklist_characters="$'\"\\<",
        blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"),
    ),
    min_size=1,
)
# What may sit inside ${...}: plain text without the closing brace.
inner = st.text(
    alphabet=st.characters(
        blacklist_characters="$'\"\\<}",
        blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"),
    ),
    min_size=1,
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cn")), max_size=12)


@given(word=plain)
def test_a_word_without_specials_is_unchanged(word: str) -> None:
    assert expand_word(word, {"X": "y"}) == word
    assert expand_words(word, {"X": "y"}) == [word]


@given(name=names, value=values, default=inner)
def test_colon_dash_is_the_value_when_set_non_empty_else_the_default(
    name: str, value: str, default: str
) -> None:
    env = {name: value}
    expected = value if value else default
    assert expand_word("${" + name + ":-" + default + "}", env) == expected
    assert expand_word("${" + name + ":-" + default + "}", {}) == default


@given(name=names, value=values, alt=inner)
def test_plus_forms_give_the_alternative_only_when_set(name: str, value: str, alt: str) -> None:
    assert expand_word("${" + name + "+" + alt + "}", {name: value}) == alt
    assert expand_word("${" + name + "+" + alt + "}", {}) == ""
    assert expand_word("${" + name + ":+" + alt + "}", {name: value}) == (alt if value else "")


@given(name=names, value=values)
def test_single_quotes_keep_everything_literal(name: str, value: str) -> None:
    assert expand_word("'$" + name + "'", {name: value}) == "$" + name


@given(name=names, value=values)
def test_double_quoted_reference_is_exactly_the_value(name: str, value: str) -> None:
    assert expand_word('"${' + name + '}"', {name: value}) == value
    words = expand_words('"${' + name + '}"', {name: value})
    assert words == ([value] if value else [])


@given(name=names, prefix=inner, rest=plain)
def test_prefix_and_suffix_removal_undo_concatenation(name: str, prefix: str, rest: str) -> None:
    # Glob metacharacters, and a leading # or % (which doubles the operator), are not
    # literals; drop them so the pattern matches exactly the text it was built from.
    literal = "".join(c for c in prefix if c not in "*?[]}/#%")
    if not literal:
        return
    env = {name: literal + rest}
    assert expand_word("${" + name + "#" + literal + "}", env) == rest
    env = {name: rest + literal}
    assert expand_word("${" + name + "%" + literal + "}", env) == rest
