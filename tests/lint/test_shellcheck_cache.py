"""ShellCheck's findings are remembered per script in the user's cache directory: a
second ``imageforge lint`` of the same RUNs starts no ``shellcheck`` and reports the
same findings; ``--no-cache``, another ShellCheck binary or a corrupt cache file make it
check again. The real ShellCheck runs behind a wrapper on PATH that logs each start."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

DOCKERFILE = "FROM alpine:3.20\nRUN echo $(ls) && rm $FILES\nRUN echo $(ls /tmp)\n"


@pytest.fixture
def logged_shellcheck(tmp_path: Path) -> tuple[dict[str, str], Path]:
    real = shutil.which("shellcheck")
    if real is None:
        pytest.skip("shellcheck is not installed (make setup installs it)")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "starts.log"
    wrapper = bindir / "shellcheck"
    wrapper.write_text(f'#!/bin/sh\necho start >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    return env, log


def _lint(tmp_path: Path, env: dict[str, str], *extra: str) -> list[tuple[str, int]]:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    res = run_cli(
        ["lint", "--format", "json", "--failure-threshold", "none", *extra, str(dockerfile)],
        env=env,
    )
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)["findings"]
    return sorted((f["rule"], f["line"]) for f in found if f["rule"].startswith("SC"))


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_second_lint_of_the_same_runs_starts_no_shellcheck(
    tmp_path: Path, logged_shellcheck: tuple[dict[str, str], Path]
) -> None:
    env, log = logged_shellcheck
    first = _lint(tmp_path, env)
    assert ("SC2046", 2) in first and ("SC2046", 3) in first
    once = _starts(log)  # one process per CPU, at most one per script
    assert once >= 1
    assert _lint(tmp_path, env) == first
    assert _starts(log) == once, "the remembered findings were not used"
    assert _lint(tmp_path, env, "--no-cache") == first
    assert _starts(log) == 2 * once
    assert _lint(tmp_path, {**env, "IMAGEFORGE_NO_LINT_CACHE": "1"}) == first
    assert _starts(log) == 3 * once


def test_another_shellcheck_binary_or_a_corrupt_cache_checks_again(
    tmp_path: Path, logged_shellcheck: tuple[dict[str, str], Path]
) -> None:
    env, log = logged_shellcheck
    first = _lint(tmp_path, env)
    once = _starts(log)
    wrapper = Path(env["PATH"].split(":", 1)[0]) / "shellcheck"
    wrapper.write_text(wrapper.read_text() + "# upgraded\n")  # another size: another binary
    assert _lint(tmp_path, env) == first
    assert _starts(log) == 2 * once
    cache = Path(env["XDG_CACHE_HOME"]) / "imageforge" / "shellcheck.sqlite"
    for leftover in cache.parent.glob("shellcheck.sqlite*"):
        leftover.unlink()
    cache.write_bytes(b"not a database" * 100)
    assert _lint(tmp_path, env) == first
    assert _starts(log) == 3 * once


def test_a_shellcheckrc_of_the_user_changes_no_finding(
    tmp_path: Path, logged_shellcheck: tuple[dict[str, str], Path]
) -> None:
    """hadolint reads no ``.shellcheckrc``; neither does lint (nor does one make the
    remembered findings disagree with a fresh check)."""
    env, _log = logged_shellcheck
    plain = _lint(tmp_path, env, "--no-cache")
    assert ("SC2046", 2) in plain and ("SC2086", 2) in plain
    home = tmp_path / "home"
    home.mkdir()
    (home / ".shellcheckrc").write_text("disable=SC2046,SC2086\n")
    (tmp_path / ".shellcheckrc").write_text("disable=SC2046,SC2086\n")
    assert _lint(tmp_path, {**env, "HOME": str(home)}, "--no-cache") == plain
