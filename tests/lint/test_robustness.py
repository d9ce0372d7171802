"""Lint never fails with an internal error, whatever the Dockerfile says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imageforge.lint import lint_source
from imageforge.report import Severity

_WORDS = st.sampled_from(
    [
        "apt-get", "install", "update", "-y", "pip", "npm", "ci", "yarn", "go", "build",
        "mvn", "package", "apk", "add", "--no-cache", "curl", "|", "sh", "&&", ";", "sudo",
        "chmod", "777", ".", "./", "/app", "package.json", "requirements.txt", "-r", "'",
        '"', "\\", "$X", "${Y:-z}", "<<EOF", "EOF", "#", "=", "root", "0", "22", "--from=a",
        "x==1", "AS", "a", "alpine:3.20", "python", "scratch", "@sha256:" + "a" * 64,
    ]
)  # fmt: skip
_KEYWORDS = st.sampled_from(
    ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "USER", "EXPOSE", "WORKDIR", "LABEL", "CMD"]
)
_LINE = st.builds(
    lambda k, ws: " ".join([k, *ws]), _KEYWORDS, st.lists(_WORDS, min_size=0, max_size=8)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, min_size=0, max_size=10))
def test_any_dockerfile_gives_findings_not_a_crash(lines: list[str]) -> None:
    text = "\n".join(["FROM alpine:3.20", *lines]) + "\n"
    for f in lint_source(text):
        assert f.location.line >= 0 and f.rule_id.startswith(("IF", "SC"))
        assert isinstance(f.severity, Severity)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    for f in lint_source(text):
        assert f.rule_id.startswith(("IF", "SC"))
