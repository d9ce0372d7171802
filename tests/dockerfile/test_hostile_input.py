"""Hostile Dockerfiles found while writing the frontend's fuzz harness
(fuzz/fuzz_dockerfile.py), by hand-made probes of deep and large inputs: each used to
escape as a Python exception (exit 70, "internal error") or to take time growing faster
than the file; now each is refused with a located error, or read in linear time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from imageforge.dockerfile import dump_ast, parse, parse_ast, parse_go_duration, resolve
from imageforge.dockerfile._expand import MAX_NESTING
from imageforge.dockerfile._parser import MAX_ONBUILD_NESTING
from imageforge.errors import InvalidArgument
from tests.conftest import run_cli


def _refused(text: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        resolve(parse(text.encode()), build_args={})
    return info.value


def test_nested_substitutions_are_refused_past_the_limit_not_a_recursion_error() -> None:
    deep = "${A:-" * 5000 + "x" + "}" * 5000
    err = _refused(f"FROM scratch\nENV X={deep}\n")
    assert f"substitutions nested more than {MAX_NESTING} deep" in err.message
    assert (err.location.line, err.location.column) == (2, 1)  # type: ignore[union-attr]
    # as deep as the limit still expands, in every form that nests
    ok = "${A:-" * MAX_NESTING + "x" + "}" * MAX_NESTING
    quoted = '"${A:+' * MAX_NESTING + "y" + '}"' * MAX_NESTING
    text = f"FROM scratch\nARG A\nENV X={ok} Y={quoted}\n"
    env = resolve(parse(text.encode()), build_args={"A": "1"}).stages[0].env
    assert (env["X"], env["Y"]) == ("1", "y")


def test_a_deeply_nested_json_array_is_not_a_string_array_as_buildkit_says() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_ast(("FROM a\nRUN " + "[" * 100_000 + "]" * 100_000 + "\n").encode())
    assert "arrays must be comprised of strings only" in info.value.message
    assert info.value.location is not None and info.value.location.line == 2


def test_onbuild_nested_past_the_limit_is_refused_by_the_syntax_parser() -> None:
    ok = "FROM a\n" + "ONBUILD " * 3 + "RUN x\n"
    assert "(onbuild (onbuild (onbuild (run" in dump_ast(parse_ast(ok.encode()))
    with pytest.raises(InvalidArgument) as info:
        parse_ast(("FROM a\n" + "ONBUILD " * 5000 + "RUN x\n").encode())
    assert f"ONBUILD nested more than {MAX_ONBUILD_NESTING} deep" in info.value.message


@pytest.mark.parametrize("value", ["9" * 400 + "h", "9" * 5000 + "s", "2562048h"])
def test_a_healthcheck_duration_past_go_s_range_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(value)
    with pytest.raises(InvalidArgument) as info:
        parse(f"FROM a\nHEALTHCHECK --interval={value} CMD true\n".encode())
    assert "invalid duration" in info.value.message


def test_go_s_largest_duration_is_still_accepted() -> None:
    assert parse_go_duration("2562047h") == 2562047 * 3600.0
    assert parse_go_duration("-2562047h") == -2562047 * 3600.0


def _timed(text: str) -> float:
    started = time.monotonic()
    resolve(parse(text.encode()), build_args={})
    return time.monotonic() - started


def test_a_long_chain_of_stages_resolves_in_linear_time() -> None:
    # Each FROM looked its parent up among all earlier stages: 4000 stages took 2 s,
    # 20000 would take a minute. Now the chain costs the same per stage.
    small = _timed(
        "FROM scratch AS s0\n" + "".join(f"FROM s{i - 1} AS s{i}\n" for i in range(1, 2000))
    )
    large = _timed(
        "FROM scratch AS s0\n" + "".join(f"FROM s{i - 1} AS s{i}\n" for i in range(1, 16000))
    )
    assert large < 30 * max(small, 0.05)  # 8x the stages; quadratic would be 64x


def test_a_line_of_many_global_args_resolves_in_linear_time() -> None:
    small = _timed("ARG " + " ".join(f"a{i}=$a{i - 1}" for i in range(1, 2000)) + "\nFROM x\n")
    large = _timed("ARG " + " ".join(f"a{i}=$a{i - 1}" for i in range(1, 16000)) + "\nFROM x\n")
    assert large < 30 * max(small, 0.05)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("RUN " + "[" * 5000 + "]" * 5000, "when using JSON array syntax"),
        ("ONBUILD " * 5000 + "RUN x", "ONBUILD nested more than"),
    ],
)
def test_the_cli_reports_a_hostile_dockerfile_as_a_syntax_error(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM scratch\n{line}\n")
    for fmt in ("ast", "json"):
        proc = run_cli(["parse", "--format", fmt, str(path)])
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"error: {path}:2:1: {message}"), proc.stderr
