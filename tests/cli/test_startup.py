"""Short commands start fast: each imports only what it uses (the scanners, the
runtime, the builder, signing and the HTTP client each cost a large share of a short
command's time; `prune` once pulled them all into every command, the registry's scan
policies into every registry command, the whole registry into `tune`
for its duration parser)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "imageforge.scan",
    "imageforge.vuln",
    "imageforge.sbom",
    "imageforge.runtime",
    "imageforge.builder",
    "httpx",
)

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["imageforge", *sys.argv[1:]]
runpy.run_module("imageforge", run_name="__main__")
"""


def _imported(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("command", [["images"], ["images", "--format", "json"]])
def test_listing_the_store_imports_nothing_heavy(tmp_path: Path, command: list[str]) -> None:
    modules = _imported("--root", str(tmp_path / "store"), *command)
    assert "imageforge.cli" in modules  # the probe saw the command run
    assert [m for m in HEAVY if m in modules] == []


@pytest.mark.parametrize(
    ("command", "unused"),
    [
        (["registry", "user", "--help"], ("imageforge.scan", "imageforge.sign", "httpx")),
        (["push", "--help"], ("imageforge.sign", "imageforge.builder", "cryptography")),
        (["build", "--help"], ("imageforge.sign", "imageforge.sbom", "httpx")),
        (["tune", "--help"], ("imageforge.registry", "imageforge.scan")),
    ],
)
def test_commands_import_only_what_they_use(
    tmp_path: Path, command: list[str], unused: tuple[str, ...]
) -> None:
    modules = _imported("--root", str(tmp_path / "store"), *command)
    assert [m for m in unused if m in modules] == []
