from __future__ import annotations

import io
import json

import pytest

from imageforge.errors import InvalidArgument, Location
from imageforge.report import (
    Finding,
    Report,
    Severity,
    format_text,
    parse_threshold,
    worst,
    write_json,
)

F = Finding(
    "IF501",
    Severity.WARNING,
    "The container runs as root.",
    Location("Dockerfile", 3, 5),
    hint="Add USER 10001.",
    snippet="    FROM alpine:3.20",
)


def test_text_shows_the_line_a_caret_and_the_advice() -> None:
    text = format_text(Report("t", "1", findings=(F,), files=("Dockerfile",)))
    assert text.splitlines() == [
        "Dockerfile:3:5: warning IF501: The container runs as root.",
        "  3 |     FROM alpine:3.20",
        "    |     ^",
        "  = help: Add USER 10001.",
        "1 finding in 1 file (1 warning)",
    ]


def test_text_says_when_there_is_nothing() -> None:
    assert format_text(Report("t", "1", files=("a", "b"))) == "no findings in 2 files\n"


def test_json_has_a_summary_and_flat_findings() -> None:
    out = io.StringIO()
    write_json(Report("t", "1", findings=(F,), files=("Dockerfile",)), out)
    data = json.loads(out.getvalue())
    assert data["summary"] == {"error": 0, "warning": 1, "info": 0, "style": 0}
    assert data["findings"][0]["rule"] == "IF501"
    assert data["findings"][0]["line"] == 3


@pytest.mark.parametrize(
    ("threshold", "fails"),
    [("error", False), ("warning", True), ("info", True), ("style", True), ("none", False)],
)
def test_threshold_decides_failure(threshold: str, fails: bool) -> None:
    report = Report("t", "1", findings=(F,))
    assert report.fails(parse_threshold(threshold)) is fails


def test_unknown_threshold_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="unknown failure threshold 'fatal'"):
        parse_threshold("fatal")


def test_worst() -> None:
    info = Finding("IF102", Severity.INFO, "m", Location("D"))
    assert worst([info, F]) is Severity.WARNING
    assert worst([]) is None


def test_whole_line_findings_have_no_caret() -> None:
    whole = Finding("IF601", Severity.WARNING, "m", Location("D", 1, 0), snippet="FROM x")
    text = format_text(Report("t", "1", findings=(whole,), files=("D",)))
    assert text.splitlines()[:3] == [
        "D:1: warning IF601: m",
        "  1 | FROM x",
        "1 finding in 1 file (1 warning)",
    ]
