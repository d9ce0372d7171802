"""Sections 1.2 and 6.1 of the guide: the build context (IF6xx). These rules run only
when the context is known."""

from __future__ import annotations

from collections.abc import Iterator

from imageforge.lint._model import Hit, LintInput, Rule
from imageforge.report import Severity

__all__ = ["CONTEXT_RULES"]

_SENT = {"vcs", "dependencies", "virtualenv"}


def _no_ignore(lint: LintInput) -> Iterator[Hit]:
    report = lint.context
    if report is not None and report.ignore_file is None:
        yield Hit(1, 0, 0, f"the context {report.context} has no .dockerignore")


def _unwanted(lint: LintInput) -> Iterator[Hit]:
    report = lint.context
    if report is None:
        return
    for u in report.unwanted:
        if u.category in _SENT:
            yield Hit(1, 0, 0, f"{u.path} ({u.reason}) is sent to the build")


def _secrets(lint: LintInput) -> Iterator[Hit]:
    report = lint.context
    if report is None:
        return
    for u in report.unwanted:
        if u.secret:
            yield Hit(1, 0, 0, f"{u.path} ({u.reason}) is sent to the build")


CONTEXT_RULES = (
    Rule(
        id="IF601",
        slug="no-dockerignore",
        section="1.2, 6.1",
        severity=Severity.WARNING,
        title="The build context has no .dockerignore",
        message="Everything in the context directory is sent to the build.",
        hint="Run imageforge context --write-dockerignore to create one from what the "
        "context holds.",
        why="The guide measures contexts 70%+ smaller with a .dockerignore: less to send "
        "and hash on every build, fewer accidental cache misses, and no .git or secrets "
        "in a broad COPY.",
        bad="FROM alpine:3.20\nCOPY app.py /app/\n",
        good="FROM alpine:3.20\nCOPY app.py /app/\n",
        check=_no_ignore,
        needs_context=True,
        bad_context=(("app.py", "print('hi')\n"),),
        good_context=(("app.py", "print('hi')\n"), (".dockerignore", ".git\n")),
    ),
    Rule(
        id="IF602",
        slug="context-not-ignored",
        section="1.2, 6.1",
        severity=Severity.WARNING,
        title=".git, node_modules or a virtualenv is sent to the build",
        message="Large directories the image should not contain are in the context.",
        hint="Add them to .dockerignore (imageforge context suggests the lines).",
        why="Version-control history, installed packages and virtualenvs are often the "
        "largest part of a context. They slow every build down, and a COPY . . would put "
        "them (and their platform-specific binaries) into the image.",
        bad="FROM alpine:3.20\nCOPY app.py /app/\n",
        good="FROM alpine:3.20\nCOPY app.py /app/\n",
        check=_unwanted,
        needs_context=True,
        bad_context=(
            ("app.py", "print('hi')\n"),
            (".dockerignore", "*.log\n"),
            ("node_modules/left-pad/index.js", "module.exports = 1\n"),
        ),
        good_context=(
            ("app.py", "print('hi')\n"),
            (".dockerignore", "node_modules\n"),
            ("node_modules/left-pad/index.js", "module.exports = 1\n"),
        ),
    ),
    Rule(
        id="IF603",
        slug="context-secret",
        section="3.1, 6.1",
        severity=Severity.ERROR,
        title="A secret file is sent to the build",
        message="A key or .env file is in the build context.",
        hint="Add it to .dockerignore; pass build secrets with RUN --mount=type=secret.",
        why="Files in the context can end up in a layer through any broad COPY, and then "
        "anyone who can pull the image has them.",
        bad="FROM alpine:3.20\nCOPY app.py /app/\n",
        good="FROM alpine:3.20\nCOPY app.py /app/\n",
        check=_secrets,
        needs_context=True,
        bad_context=(
            ("app.py", "print('hi')\n"),
            (".dockerignore", "*.log\n"),
            (".env", "TOKEN=x\n"),
        ),
        good_context=(
            ("app.py", "print('hi')\n"),
            (".dockerignore", ".env\n"),
            (".env", "TOKEN=x\n"),
        ),
    ),
)
