"""``imageforge parse`` run as a user runs it: the console script in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.dockerfile.corpus import corpus_dir


def test_ast_output_reproduces_every_buildkit_result_byte_for_byte() -> None:
    root = corpus_dir("buildkit-parser")
    rows = (root / "CASES.tsv").read_text(encoding="utf-8").splitlines()[1:]
    positive = [r.split("\t")[0] for r in rows if r.split("\t")[1] == "positive"]
    assert len(positive) == 33
    for case in positive:
        proc = run_cli(["parse", "--format", "ast", str(root / case / "Dockerfile")])
        assert proc.returncode == 0, (case, proc.stderr)
        assert proc.stdout.encode() == (root / case / "result").read_bytes(), case


def test_negative_corpus_cases_exit_2_naming_the_line() -> None:
    root = corpus_dir("buildkit-parser")
    expected = {
        "empty_dockerfile": "1:1: file with no instructions",
        "only_comments": "3:1: file with no instructions",
        "env_no_value": "3:1: ENV must have two arguments",
        "shykes-nested-json": "1:1: when using JSON array syntax",
    }
    for case, tail in expected.items():
        path = root / case / "Dockerfile"
        proc = run_cli(["parse", str(path)])
        assert proc.returncode == 2, case
        assert proc.stdout == ""
        assert proc.stderr.startswith(f"error: {path}:{tail}"), proc.stderr


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "Dockerfile"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("fmt", "text", "where", "message"),
    [
        ("json", "FROM a\n\n  FROBNICATE x\n", "3:3", "unknown instruction: FROBNICATE"),
        ("ast", "FROM a\nRUN <<EOF\necho hi\n", "2:1", "unterminated heredoc EOF"),
        (
            "json",
            "FROM a\nSHELL /bin/sh -c\n",
            "2:1",
            "SHELL requires the arguments to be in JSON form",
        ),
        (
            "ast",
            "FROM a\nCMD [1, 2]\n",
            "2:1",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        ("json", "FROM a\nCOPY --chwon=1 a b\n", "2:1", "unknown flag: --chwon"),
        (
            "json",
            "FROM a\nCOPY --link=maybe a b\n",
            "2:1",
            "expecting boolean value for flag --link, not: maybe",
        ),
        ("ast", "# escape=!\nFROM a\n", "1:1", "invalid escape token '!' does not match ` or \\"),
        ("ast", "# just a comment\n\n", "2:1", "file with no instructions"),
    ],
)
def test_each_error_kind_is_file_line_col_and_exit_2(
    tmp_path: Path, fmt: str, text: str, where: str, message: str
) -> None:
    path = _write(tmp_path, text)
    proc = run_cli(["parse", "--format", fmt, path])
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[0] == f"error: {path}:{where}: {message}"


def test_unknown_flag_error_suggests_the_right_flag(tmp_path: Path) -> None:
    proc = run_cli(["parse", "--format", "json", _write(tmp_path, "FROM a\nCOPY --chwon=1 a b\n")])
    assert proc.stderr.splitlines()[1] == "hint: did you mean --chown?"


def test_json_output_has_stages_positions_and_warnings(tmp_path: Path) -> None:
    text = "ARG V=1\nFROM alpine:$V AS base\nRUN <<EOF\necho hi\nEOF\nMAINTAINER me\n"
    proc = run_cli(["parse", "--format", "json", _write(tmp_path, text)])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["meta_args"][0]["args"] == [{"key": "V", "value": "1"}]
    (stage,) = data["stages"]
    assert (stage["name"], stage["base"], stage["location"]["start_line"]) == (
        "base",
        "alpine:$V",
        2,
    )
    run = stage["instructions"][0]
    assert run["instruction"] == "RUN"
    assert run["location"] == {"start_line": 3, "end_line": 5, "column": 1}
    assert run["heredocs"] == [
        {"name": "EOF", "content": "echo hi\n", "expand": True, "chomp": False, "fd": 0}
    ]
    assert [w["code"] for w in data["warnings"]] == ["MaintainerDeprecated"]


def test_default_file_and_stdin(tmp_path: Path) -> None:
    _write(tmp_path, "FROM a\n")
    assert run_cli(["parse"], cwd=tmp_path).stdout == '(from "a")\n'
    proc = run_cli(["parse", "-"], stdin_text="from b\n")
    assert (proc.returncode, proc.stdout) == (0, '(from "b")\n')
    missing = run_cli(["parse", str(tmp_path / "nope")])
    assert missing.returncode == 3
    assert missing.stderr.startswith(f"error: no such Dockerfile: {tmp_path / 'nope'}")
