"""``make setup`` is the single source of what the tests need: every program a test
runs and every system path it reads belongs to a Debian package that DEB_PACKAGES
installs (or one of their dependencies, or an essential package every Debian has).
A package installed by hand makes the suite pass here and fail on a fresh machine: it
happened with Go's vendored go-digest sources."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"

# A program a test runs: need_binary("x"), shutil.which("x"), subprocess.run(["x", ...
_PROGRAM = re.compile(
    r"""(?:need_binary\(|which\(|subprocess\.(?:run|Popen|check_output|check_call)\(\s*\[)\s*"([a-z0-9][a-z0-9._+-]*)\""""
)
# A system path a test reads, as a string literal: "/usr/share/...".
_SYSTEM_PATH = re.compile(
    r"""["'](/usr/(?:share|lib)/[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)+)["']"""
)
# Written by tests into rootfs fixtures, not read from the host.
_NOT_HOST = ("/usr/share/doc/bash/copyright", "/usr/lib/os-release", "/usr/lib/libfoo.txt")


def _deb_packages() -> set[str]:
    text = (REPO / "Makefile").read_text()
    m = re.search(r"^DEB_PACKAGES :=((?:.*\\\n)*.*)$", text, re.MULTILINE)
    assert m, "Makefile has no DEB_PACKAGES"
    return set(m.group(1).replace("\\\n", " ").split())


def _dpkg(*args: str) -> str:
    return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=False).stdout


@functools.cache
def _installed() -> dict[str, tuple[str, str]]:
    """package -> (Depends + Pre-Depends, Essential) for what is installed."""
    out = _dpkg("-W", "-f", "${Package}\t${Pre-Depends}, ${Depends}\t${Essential}\n")
    table = {}
    for line in out.splitlines():
        name, deps, essential = line.split("\t")
        table[name] = (deps, essential)
    return table


def _closure(roots: set[str]) -> set[str]:
    installed = _installed()
    seen: set[str] = set()
    todo = list(roots) + [p for p, (_d, ess) in installed.items() if ess == "yes"]
    while todo:
        name = todo.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for alternative in installed[name][0].split(","):
            for choice in alternative.split("|"):
                dep = choice.strip().split(" ")[0].split(":")[0]
                if dep in installed:
                    todo.append(dep)
                    break  # the first installed alternative satisfies it
    return seen


def _owners(path: str) -> set[str]:
    out = _dpkg("-S", path)
    owners: set[str] = set()
    for line in out.splitlines():
        names, _, owned = line.rpartition(": ")
        if owned == path:
            owners.update(n.strip().split(":")[0] for n in names.split(","))
    return owners


def _wanted() -> tuple[set[str], set[str]]:
    programs: set[str] = set()
    paths: set[str] = set()
    for source in TESTS.rglob("*.py"):
        text = source.read_text()
        programs.update(_PROGRAM.findall(text))
        paths.update(p for p in _SYSTEM_PATH.findall(text) if p not in _NOT_HOST)
    return programs, paths


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian machine")
def test_every_program_and_path_the_tests_use_comes_from_make_setup() -> None:
    closure = _closure(_deb_packages())
    programs, paths = _wanted()
    assert {"skopeo", "runc", "go"} <= programs and paths  # the scan finds them
    missing: list[str] = []
    for program in sorted(programs):
        found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
        if found is None or Path(found).is_relative_to(sys.prefix):
            continue  # not a program here (need_binary fails then), or from the venv
        owners = _owners(os.path.realpath(found)) | _owners(found)
        if not owners and found.startswith("/usr/"):  # merged /usr: dpkg knows /bin/ls
            owners = _owners(found.removeprefix("/usr"))
        if not owners & closure:
            missing.append(f"{program} ({found}): from {sorted(owners) or 'no package'}")
    for path in sorted(paths):
        owners = _owners(path)
        if not owners & closure:
            missing.append(f"{path}: from {sorted(owners) or 'no package'}")
    assert missing == [], "add their packages to DEB_PACKAGES in the Makefile"
