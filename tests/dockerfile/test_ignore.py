"""``.dockerignore`` semantics: every rule of shared/corpus/dockerignore-semantics.md."""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageforge.dockerfile import (
    DockerIgnore,
    PatternKind,
    clean_path,
    compile_patterns,
    escape_pattern,
    find_dockerignore,
    load_dockerignore,
    parse_dockerignore,
    read_dockerignore,
)
from imageforge.errors import InvalidArgument, NotFound

# The example table of the semantics note (section 6), transcribed: lines are joined by
# " ⏎ " and "␣" is a significant space there; here they are a list and real spaces.
# Result: True = ignored, False = sent, None = the file is rejected.
TABLE: list[tuple[int, list[str], str, bool | None]] = [
    (1, ["*.log"], "app.log", True),
    (2, ["*.log"], "logs/app.log", False),
    (3, ["**/*.log"], "logs/2024/app.log", True),
    (4, ["**/*.log"], "app.log", True),
    (5, ["node_modules"], "node_modules/lodash/index.js", True),
    (6, ["node_modules"], "web/node_modules/lodash/index.js", False),
    (7, ["**/node_modules"], "web/node_modules/lodash/index.js", True),
    (8, ["/build"], "build/out.o", True),
    (9, ["build/"], "build", True),
    (10, ["./src/../tmp"], "tmp/cache.bin", True),
    (11, ["dist/**"], "dist", False),
    (12, ["dist/**"], "dist/js/app.js", True),
    (13, ["foo*"], "foobar/baz.txt", True),
    (14, ["*/*.bak"], "a/b/c.bak", False),
    (15, ["*/temp*"], "somedir/temporary.txt", True),
    (16, ["?.txt"], "ab.txt", False),
    (17, ["[a-c]*.py"], "build.py", True),
    (18, ["[^a-c]*.py"], "main.py", True),
    (19, ["[!a-c]*.py"], "main.py", False),
    (20, ["[!a-c]*.py"], "build.py", True),
    (21, ["foo\\*bar"], "foo*bar", True),
    (22, ["foo\\*bar"], "fooXbar", False),
    (23, ["a+b(1).txt"], "a+b(1).txt", True),
    (24, [".*"], "config/.env", False),
    (25, ["**/.git"], ".git/HEAD", True),
    (26, ["docs", "!docs/README.md"], "docs/README.md", False),
    (27, ["docs", "!docs/README.md"], "docs/guide.md", True),
    (28, ["!docs/README.md", "docs"], "docs/README.md", True),
    (29, ["*", "!src"], "src/pkg/main.go", False),
    (30, ["*", "!src"], "README.md", True),
    (31, ["*", "!src", "src/**/*.tmp"], "src/a/b.tmp", True),
    (32, ["*.md", "!README*.md", "README-secret.md"], "README.md", False),
    (33, ["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (34, ["  *.tmp  "], "x.tmp", True),
    (35, [" #notes"], "#notes", True),
    (36, ["# just a comment"], "# just a comment", False),
    (37, ["! keep.txt", "*.txt"], "keep.txt", True),
    (38, ["*.txt", "! keep.txt"], "keep.txt", False),
    (39, ["*", "!"], "anything", None),
    (40, ["src/[a-"], "anything", None),
]


@pytest.mark.parametrize(("row", "lines", "path", "ignored"), TABLE, ids=[str(r[0]) for r in TABLE])
def test_semantics_table(row: int, lines: list[str], path: str, ignored: bool | None) -> None:
    text = "\n".join(lines) + "\n"
    if ignored is None:
        with pytest.raises(InvalidArgument) as info:
            parse_dockerignore(text)
        assert info.value.location is not None
        assert info.value.location.line == len(lines)
        return
    assert parse_dockerignore(text).is_ignored(path) is ignored


def test_table_is_complete() -> None:
    assert [r[0] for r in TABLE] == list(range(1, 41))


# --- reading the file -------------------------------------------------------------------


def test_bom_crlf_comments_and_whitespace() -> None:
    ignore = parse_dockerignore("\ufeff# comment\r\n  #hash\r\n\r\n\t*.tmp \r\n!  keep.tmp\r\n")
    assert ignore.lines == ["#hash", "*.tmp", "!keep.tmp"]
    assert [p.line for p in ignore.patterns] == [2, 4, 5]
    assert ignore.is_ignored("#hash") and ignore.is_ignored("a.tmp")
    assert not ignore.is_ignored("keep.tmp")


def test_bom_only_on_the_first_line() -> None:
    # On a later line the BOM is an ordinary character of the pattern.
    ignore = parse_dockerignore("a\n\ufeffb\n")
    assert ignore.lines == ["a", "\ufeffb"]
    assert not ignore.is_ignored("b")


def test_cleaning_and_leading_slash() -> None:
    ignore = parse_dockerignore("/a//b/./c/\n!/x/../y\n/\n")
    assert ignore.lines == ["a/b/c", "!y", "/"]
    assert ignore.is_ignored("a/b/c/d")


def test_go_whitespace_is_trimmed_but_not_other_controls() -> None:
    # Go's TrimSpace trims U+00A0 and U+3000 but not U+001F, which Python's strip() would.
    assert parse_dockerignore("\u00a0a.txt\u3000\n").lines == ["a.txt"]
    assert parse_dockerignore("\x1fa.txt\n").lines == ["\x1fa.txt"]


def test_compile_patterns_does_not_strip_a_leading_slash() -> None:
    # patternmatcher.New alone: "/build" is an absolute path and never matches.
    assert not compile_patterns(["/build"]).is_ignored("build/out.o")
    assert parse_dockerignore("/build").is_ignored("build/out.o")
    # ... and takes "# x" as a pattern, not a comment.
    assert compile_patterns(["# x"]).is_ignored("# x")


def test_no_patterns_and_the_root() -> None:
    assert not DockerIgnore().is_ignored("anything")
    for everything in ("*", "**", "."):
        ignore = parse_dockerignore(everything)
        assert not ignore.is_ignored(".")
        assert not ignore.is_ignored("")


# --- pattern kinds and regexp details -----------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("a/b.txt", PatternKind.EXACT),
        ("a+b^c", PatternKind.EXACT),
        ("dist/**", PatternKind.PREFIX),
        ("**/node_modules", PatternKind.SUFFIX),
        ("**", PatternKind.SUFFIX),
        ("**/*.go", PatternKind.REGEXP),
        ("**/x/**", PatternKind.REGEXP),
        ("a/*", PatternKind.REGEXP),
        ("a\\b", PatternKind.REGEXP),
    ],
)
def test_pattern_kind(pattern: str, kind: PatternKind) -> None:
    assert compile_patterns([pattern]).patterns[0].kind is kind


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**file", "myfile", True),  # suffix kind: a plain string suffix
        ("**/x", "x", True),
        ("**/x", "ax", False),
        ("**", "a/b/c", True),
        ("dist**", "dist", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a**/*.txt", "a/file.txt", True),
        ("a**/*.txt", "a/x/y/file.txt", True),
        ("a**b", "ab", True),
        ("a**b", "ax/b", True),
        ("a**b", "axb", False),  # a ** glued to text still ends at a "/"
        ("a?b", "a\u263ab", True),  # ? is one character, not one byte
        ("a?b", "a/b", False),
        ("abc.def", "abcXdef", False),
        ("a^b", "a^b", True),  # exact kind: ^ is a literal
        ("a^b*", "a^b", False),  # regexp kind: ^ reaches the regexp as an anchor
        ("foo\\d", "foo1", True),  # Go's regexp \d, as Docker has it
        ("foo\\d", "food", False),
        ("foo\\d", "foo\u0663", False),  # ASCII digits only, as in Go
        ("a\\wb", "a_b", True),
        ("[\\]]", "]", True),
        ("[a\\-z]", "-", True),
        ("[a\\-z]", "b", False),
        ("[]a]", "]", None),  # ] first in a class is malformed
        ("x[*]", "x*", True),  # inside brackets * is a member here (see module doc)
        ("\\#x", "#x", True),
        ("*", "a/b", False),
        ("[^a]", "/", True),
    ],
)
def test_pattern_matches(pattern: str, path: str, matches: bool | None) -> None:
    if matches is None:
        with pytest.raises(InvalidArgument):
            compile_patterns([pattern])
        return
    assert compile_patterns([pattern]).patterns[0].matches(path) is matches


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("!", 'illegal exclusion pattern: "!"'),
        ("!   ", 'illegal exclusion pattern: "!"'),
        ("src/[a-", "malformed character class"),
        ("[abc", "unterminated character class"),
        ("[", "malformed character class"),
        ("[z-a]", "invalid character class range z-a"),
        ("[a-]", "malformed character class"),
        ("[^]", "malformed character class"),
        ("x\\", "trailing backslash"),
        ("x\\q", "unsupported escape sequence \\q"),
        ("x\\\u00e9", "unsupported escape sequence"),
    ],
)
def test_bad_patterns_name_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / ".dockerignore"
    path.write_text(f"# first\nok\n{line}\n")
    with pytest.raises(InvalidArgument) as info:
        read_dockerignore(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert why in str(info.value)
    assert info.value.hint


def test_missing_ignore_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_dockerignore(tmp_path / ".dockerignore")


def test_non_utf8_bytes_match_names_with_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_bytes(b"caf\xe9*\n")
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    ignore = read_dockerignore(tmp_path / ".dockerignore")
    assert ignore.is_ignored(name)
    assert not ignore.is_ignored("caf\u00e9.txt")


# --- which file ---------------------------------------------------------------------------


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert find_dockerignore(tmp_path, dockerfile) is None
    (tmp_path / ".dockerignore").write_text("a\n")
    assert find_dockerignore(tmp_path, dockerfile) == tmp_path / ".dockerignore"
    specific = tmp_path / "build" / "app.Dockerfile.dockerignore"
    specific.write_text("b\n")
    assert find_dockerignore(tmp_path, dockerfile) == specific
    assert find_dockerignore(tmp_path) == tmp_path / ".dockerignore"
    ignore = load_dockerignore(tmp_path, dockerfile)
    assert ignore.lines == ["b"] and ignore.source == str(specific)
    assert load_dockerignore(tmp_path / "build").lines == []


# --- properties ---------------------------------------------------------------------------

_segment = st.text(alphabet="ab.-_", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
_literal = st.lists(_segment, min_size=1, max_size=4).map("/".join)
# "." and ".." segments are cleaned away, and cleaning "/.." differs from ".." (the root
# has no parent), so they would make the slash property false for a legitimate reason.
_glob_segment = (
    st.lists(
        st.sampled_from(["a", "b", ".", "*", "?", "**", "[ab]", "[^a]"]), min_size=1, max_size=3
    )
    .map("".join)
    .filter(lambda s: s not in (".", ".."))
)
_glob = st.lists(_glob_segment, min_size=1, max_size=3).map("/".join)


@given(literal=_literal, other=_literal)
def test_literal_pattern_matches_itself_and_everything_below(literal: str, other: str) -> None:
    ignore = parse_dockerignore(literal)
    assert ignore.is_ignored(literal)
    assert ignore.is_ignored(literal + "/" + other)
    assert ignore.is_ignored(other) is (other == literal or other.startswith(literal + "/"))


@given(pattern=_glob, path=_literal)
def test_leading_and_trailing_slash_change_nothing(pattern: str, path: str) -> None:
    expected = parse_dockerignore(pattern).is_ignored(path)
    assert parse_dockerignore(pattern + "/").is_ignored(path) is expected
    assert parse_dockerignore("/" + pattern).is_ignored(path) is expected
    assert parse_dockerignore("/" + pattern + "/").is_ignored(path) is expected


@given(pattern=_glob, path=_literal)
def test_exception_after_a_pattern_reincludes_what_it_ignored(pattern: str, path: str) -> None:
    assert not parse_dockerignore(f"{pattern}\n!{pattern}\n").is_ignored(path)
    # ... while the other order changes nothing about what the pattern ignores.
    alone = parse_dockerignore(pattern).is_ignored(path)
    assert parse_dockerignore(f"!{pattern}\n{pattern}\n").is_ignored(path) is alone


@given(pattern=_glob, path=_literal)
def test_a_hit_on_a_directory_is_a_hit_on_everything_below(pattern: str, path: str) -> None:
    ignore = parse_dockerignore(pattern)
    if ignore.is_ignored(path):
        assert ignore.is_ignored(path + "/below/x")


@given(path=st.lists(st.sampled_from(["a", "bc", ".", "..", ""]), max_size=6).map("/".join))
def test_clean_path_is_lexical_clean(path: str) -> None:
    # posixpath.normpath agrees with Go's Clean except that it keeps a leading "//".
    if not path.startswith("//"):
        assert clean_path(path) == posixpath.normpath(path)
    assert clean_path(clean_path(path)) == clean_path(path)


_name_char = st.characters(codec="utf-8", exclude_characters="/\x00")


@given(path=st.lists(st.text(_name_char, min_size=1, max_size=5), min_size=1, max_size=3))
def test_escape_pattern_matches_exactly_that_path(path: list[str]) -> None:
    segments = [s for s in path if s not in (".", "..")]
    if not segments:
        return
    target = "/".join(segments)
    ignore = parse_dockerignore(escape_pattern(target) + "\n")
    assert ignore.is_ignored(target)
    assert not ignore.is_ignored(target + "x")
