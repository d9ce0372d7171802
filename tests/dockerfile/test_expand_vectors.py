"""BuildKit's shell-lexer test vectors, every Unix row (README of buildkit-shell)."""

from __future__ import annotations

from imageforge.dockerfile import expand_word, expand_words
from imageforge.errors import InvalidArgument
from tests.dockerfile.corpus import corpus_dir

ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _expand_or_error(word: str) -> str:
    try:
        return expand_word(word, ENV_VAR_TEST_ENV)
    except InvalidArgument:
        return "error"


def test_every_unix_row_of_env_var_test() -> None:
    text = (corpus_dir("buildkit-shell") / "envVarTest").read_text(encoding="utf-8")
    checked = 0
    failures = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        platform, word, expected = (part.strip() for part in line.split("|"))
        if platform not in ("A", "U"):
            continue
        checked += 1
        got = _expand_or_error(word)
        if got != expected:
            failures.append((word, expected, got))
    assert failures == []
    assert checked == 228  # every A and U row of the pinned file


def test_every_case_of_words_test() -> None:
    text = (corpus_dir("buildkit-shell") / "wordsTest").read_text(encoding="utf-8")
    env: dict[str, str] = {}
    checked = 0
    failures = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            name, value = line[len("ENV ") :].split("=", 1)
            env[name] = value
            continue
        if not line.strip():
            continue
        word, expected = line.split("|", 1)
        want = expected.lstrip(" ").split(",")
        try:
            got = expand_words(word.strip(), env)
        except InvalidArgument:
            got = ["error"]
        checked += 1
        if got != want:
            failures.append((word, want, got))
    assert failures == []
    assert checked == 24


def test_expansion_errors_name_the_word() -> None:
    try:
        expand_word("he'llo", {})
    except InvalidArgument as exc:
        assert str(exc) == (
            'failed to process "he\'llo": '
            "unexpected end of statement while looking for matching single-quote"
        )
    else:
        raise AssertionError("an unterminated quote must fail")
