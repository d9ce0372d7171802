"""A lint of many files starts ShellCheck on the first files' RUNs while it still reads
and parses the others: each file still gets exactly its own ShellCheck findings, and a
file that cannot be read stops the run without leaving a ``shellcheck`` running or its
scripts on disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from imageforge.errors import NotFound
from imageforge.lint import lint_path, lint_paths
from imageforge.report import Finding


@pytest.fixture
def workdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (make setup installs it)")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _dockerfiles(root: Path, count: int) -> list[Path]:
    """``count`` Dockerfiles, each with a long RUN of its own (about 2 kB of script, so
    that the whole is several parts) and a RUN reading a variable named after it."""
    out = []
    for i in range(count):
        steps = " && ".join(f"echo step{k}-{i}" for k in range(120))
        path = root / f"app{i}" / "Dockerfile"
        path.parent.mkdir(parents=True)
        path.write_text(f'FROM alpine:3.20\nRUN {steps}\nRUN echo "$unset_{i}" $(ls)\n')
        out.append(path)
    return out


def _sc(findings: Sequence[Finding]) -> list[tuple[str, int, str]]:
    return sorted(
        (f.rule_id, f.location.line, f.message) for f in findings if f.rule_id.startswith("SC")
    )


def test_each_file_gets_its_own_findings(tmp_path: Path, workdirs: Path) -> None:
    files = _dockerfiles(tmp_path / "src", 40)
    together = lint_paths(files, cache=False)
    assert [shown for shown, _ in together] == [str(f) for f in files]
    for i, (path, (_, findings)) in enumerate(zip(files, together, strict=True)):
        found = _sc(findings)
        assert ("SC2154", 3, f"unset_{i} is referenced but not assigned.") in found
        assert ("SC2046", 3, "Quote this to prevent word splitting.") in found
        assert found == _sc(lint_path(path)[1]), f"{path} differs when linted alone"
    assert list(workdirs.iterdir()) == [], "ShellCheck's scripts were left behind"


def _shellcheck_children() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("Name") == "shellcheck" and fields.get("PPid", "").strip() == str(
            os.getpid()
        ):
            out.append(int(entry.name))
    return out


def test_a_missing_file_leaves_no_shellcheck_behind(tmp_path: Path, workdirs: Path) -> None:
    files = _dockerfiles(tmp_path / "src", 30)
    with pytest.raises(NotFound, match="no such Dockerfile"):
        lint_paths([*files, tmp_path / "missing" / "Dockerfile"], cache=False)
    assert _shellcheck_children() == []
    assert list(workdirs.iterdir()) == []
