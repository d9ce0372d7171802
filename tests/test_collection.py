"""Every test directory is collected by a plain `pytest` run (as `make test` runs it):
pytest's defaults once skipped tests/build (now tests/builder) without a word. In such
a run (no paths, no -k/-m) the files it collected are read from the run itself;
otherwise a plain `pytest --collect-only` is run to find them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COLLECTED_FILES

ROOT = Path(__file__).resolve().parent.parent


def _collected_by_a_plain_run(config: pytest.Config) -> set[str]:
    files = config.stash.get(COLLECTED_FILES, None)
    plain = not config.args or [Path(a).resolve() for a in config.args] == [ROOT / "tests"]
    if files is not None and plain and not config.option.keyword and not config.option.markexpr:
        return files
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.split("::")[0] for line in proc.stdout.splitlines() if "::" in line}


def test_every_test_directory_is_collected(pytestconfig: pytest.Config) -> None:
    collected = _collected_by_a_plain_run(pytestconfig)
    on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")}
    assert on_disk - collected == set()
