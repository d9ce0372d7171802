"""pylint's duplicate-code check (R0801) over ``src/imageforge`` finds no mechanism written
twice (#20: one owner for each small mechanism).

Its settings are pyproject.toml's ``[tool.pylint.similarities]``, so a developer running
``pylint --disable=all --enable=duplicate-code src/imageforge`` sees what this test sees.
Two kinds of finding are not a mechanism written twice:

- a package's ``__all__`` repeating the names its module exports (every repeated line a
  quoted name): the re-export is the point;
- the pairs of :data:`KNOWN`, each with the reason it stays; a pair that no longer
  repeats fails the test too, so the list only shrinks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

KNOWN: dict[frozenset[str], str] = {
    frozenset({"imageforge.sbom.catalogers._python", "imageforge.sbom.catalogers._rust"}): (
        "each cataloger parses its own lock file (poetry.lock, Cargo.lock) and warns on a bad "
        "one: the same eight lines of TOML handling, not a mechanism with an owner"
    ),
    frozenset({"imageforge.sbom.catalogers._npm", "imageforge.sbom.catalogers._python"}): (
        "package.json and Pipfile.lock read as a JSON object, warning on a bad one: "
        "six lines of JSON handling, not a mechanism with an owner"
    ),
    frozenset({"imageforge.vuln._ver_dpkg", "imageforge.vuln._ver_gem"}): (
        "each version order module gives the same three functions (key, valid, compare) "
        "over its own library's key; valid and compare are the interface's few lines"
    ),
}

_EXPORTED_NAME = re.compile(r'\s*(__all__ = \[|"[\w.]+",?|\])\s*')
_WHERE = re.compile(r"==([\w.]+):\[(\d+):(\d+)\]")


def _findings() -> list[tuple[frozenset[str], str]]:
    """Each R0801: the modules repeating the lines, and pylint's whole message."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pylint",
            "--disable=all",
            "--enable=duplicate-code",
            "--output-format=json2",
            "src/imageforge",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    # pylint's exit status is a bit mask of what it reported; 1 (fatal) and 32 (usage)
    # mean it did not check
    assert not run.returncode & (1 | 32), run.stderr or run.stdout
    out: list[tuple[frozenset[str], str]] = []
    for message in json.loads(run.stdout)["messages"]:
        assert message["messageId"] == "R0801", message
        text: str = message["message"]
        modules = frozenset(m.group(1) for m in _WHERE.finditer(text))
        assert modules, text
        out.append((modules, text))
    return out


def _is_export_list(message: str) -> bool:
    lines = [line for line in message.splitlines()[1:] if not line.startswith("==")]
    return bool(lines) and all(_EXPORTED_NAME.fullmatch(line) for line in lines)


def test_no_mechanism_is_written_twice_in_src() -> None:
    findings = [(modules, text) for modules, text in _findings() if not _is_export_list(text)]
    repeats = [text for modules, text in findings if modules not in KNOWN]
    assert not repeats, "written twice: give it one owner and call it\n\n" + "\n\n".join(repeats)
    gone = set(KNOWN) - {modules for modules, _ in findings}
    assert not gone, f"no longer repeated, remove them from KNOWN: {[sorted(g) for g in gone]}"


def test_an_export_list_is_told_from_code() -> None:
    assert _is_export_list('Similar lines in 2 files\n==a:[1:3]\n==b:[4:6]\n    "x",\n    "y",')
    assert not _is_export_list(
        "Similar lines in 2 files\n==a:[1:3]\n==b:[4:6]\n    os.replace(tmp, path)\n    raise"
    )
