"""The documents name tests as the proof of what they claim (docs/security.md names the
test that performs each attack): every test file and test they name exists, so a
renamed or deleted test cannot leave a claim without its proof."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
# `tests/x/test_y.py::test_z`, `tests/x/test_y.py`, and `::test_z` (same file as before)
_REF = re.compile(r"`(tests/[\w/]+\.py)?(?:::(test_\w+))?(?:\[[^\]`]*\])?`")


def _references(doc: Path) -> list[tuple[str, str | None]]:
    refs: list[tuple[str, str | None]] = []
    last: str | None = None
    for m in _REF.finditer(doc.read_text()):
        path, test = m.group(1), m.group(2)
        if path is None and test is None:
            continue
        if path is None:
            assert last is not None, f"{doc.name}: `::{test}` with no file named before it"
            path = last
        last = path
        refs.append((path, test))
    return refs


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_test_a_document_names_exists(doc: Path) -> None:
    missing = []
    for path, test in _references(doc):
        source = REPO / path
        if not source.is_file():
            missing.append(path)
        elif test is not None and not re.search(rf"^\s*def {test}\(", source.read_text(), re.M):
            missing.append(f"{path}::{test}")
    assert missing == []


def test_the_security_document_names_its_tests() -> None:
    refs = _references(REPO / "docs" / "security.md")
    assert len([t for _p, t in refs if t]) >= 30
