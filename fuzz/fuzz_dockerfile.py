"""Fuzz the Dockerfile frontend the way ``imageforge parse``, ``lint`` and ``build`` read
a hostile Dockerfile: the syntax tree and its BuildKit dump, typed instructions and their
JSON, rendering back to text, ARG/ENV expansion for a build; with FUZZ_LINT=1 the lint
rules and their fixes too.

Any exception that is not an :class:`~imageforge.errors.ImageforgeError` escapes and is a
finding (the CLI would answer it with exit 70, "internal error"). Run with
``fuzz/run.sh dockerfile MINUTES`` (see fuzz/README.md).
"""

from __future__ import annotations

import json
import os
import sys

import atheris

# Coverage is collected in the frontend only (and lint with FUZZ_LINT): instrumenting
# every module imageforge imports made each input several times slower.
with atheris.instrument_imports(include=["imageforge.dockerfile", "imageforge.lint"]):
    from imageforge.dockerfile import dump_ast, parse, parse_ast, resolve, to_dockerfile
    from imageforge.errors import ImageforgeError
    from imageforge.lint import fix_source, lint_source
    from imageforge.policy import LintPolicy

# shellcheck is a peer program run per RUN: its crashes are not ours, and it is slow.
_POLICY = LintPolicy(disable=("SC",))
# FUZZ_LINT=1 also runs the lint rules and --fix on each input (~5x slower per input).
_LINT = os.environ.get("FUZZ_LINT") == "1"
_BUILD_ARGS = {"A": "x", "VERSION": "1.0", "HTTP_PROXY": "http://p:3128", "EMPTY": ""}


def _base_env(image: str, platform: str | None) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/root"}


def test_one_input(data: bytes) -> None:
    try:
        dump_ast(parse_ast(data, file="fuzz"))
    except ImageforgeError:
        pass
    try:
        df = parse(data, file="Dockerfile")
    except ImageforgeError:
        df = None
    if df is not None:
        json.dumps(df.to_json())
        try:
            to_dockerfile(df, escape=df.escape)
        except ImageforgeError:
            pass
        try:
            resolve(df, build_args=_BUILD_ARGS, base_env=_base_env, target="t")
        except ImageforgeError:
            pass
    if not _LINT:
        return
    text = data.decode("utf-8", errors="replace")  # as `imageforge lint` reads a file
    lint_source(text, file="Dockerfile", policy=_POLICY)
    fix_source(text, file="Dockerfile", policy=_POLICY, max_passes=2)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
