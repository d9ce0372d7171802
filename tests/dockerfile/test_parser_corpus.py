"""BuildKit's file-based parser tests, every case of CASES.tsv, nothing skipped."""

from __future__ import annotations

import json

from imageforge.dockerfile import dump_ast, parse_ast
from imageforge.errors import InvalidArgument
from tests.dockerfile.corpus import corpus_dir


def _cases() -> list[tuple[str, str]]:
    root = corpus_dir("buildkit-parser")
    rows = (root / "CASES.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [(row.split("\t")[0], row.split("\t")[1]) for row in rows if row.strip()]


def test_every_case_of_the_buildkit_parser_corpus() -> None:
    root = corpus_dir("buildkit-parser")
    cases = _cases()
    assert len(cases) == 38
    seen = {"positive": 0, "negative": 0, "line-numbers": 0}
    for case, kind in cases:
        data = (root / case / "Dockerfile").read_bytes()
        seen[kind] += 1
        if kind == "positive":
            result = parse_ast(data, file=f"{case}/Dockerfile")
            expected = (root / case / "result").read_bytes()
            assert dump_ast(result).encode("utf-8", "surrogateescape") == expected, case
        elif kind == "negative":
            try:
                parse_ast(data, file=f"{case}/Dockerfile")
            except InvalidArgument as exc:
                message = str(exc)
                assert exc.location is not None and exc.location.line >= 1, case
                assert message.startswith(f"{case}/Dockerfile:{exc.location.line}:"), message
            else:
                raise AssertionError(f"{case} must fail to parse")
        else:
            expected_lines = json.loads((root / case / "expected-lines.json").read_text())
            result = parse_ast(data, file=f"{case}/Dockerfile")
            assert (result.start_line, result.end_line) == (
                expected_lines["root"]["start_line"],
                expected_lines["root"]["end_line"],
            )
            assert len(result.nodes) == expected_lines["root"]["children_count"]
            got = [(n.name, n.location.start_line, n.location.end_line) for n in result.nodes]
            want = [
                (c["instruction"], c["start_line"], c["end_line"])
                for c in expected_lines["children"]
            ]
            assert got == want
    assert seen == {"positive": 33, "negative": 4, "line-numbers": 1}


def test_negative_cases_say_what_is_wrong() -> None:
    root = corpus_dir("buildkit-parser")
    messages = {}
    for case in ("empty_dockerfile", "only_comments", "env_no_value", "shykes-nested-json"):
        try:
            parse_ast((root / case / "Dockerfile").read_bytes(), file="Dockerfile")
        except InvalidArgument as exc:
            messages[case] = str(exc)
    assert messages == {
        "empty_dockerfile": "Dockerfile:1:1: file with no instructions",
        "only_comments": "Dockerfile:3:1: file with no instructions",
        "env_no_value": "Dockerfile:3:1: ENV must have two arguments",
        "shykes-nested-json": "Dockerfile:1:1: when using JSON array syntax, "
        "arrays must be comprised of strings only",
    }
