"""One page per rule in docs/rules, generated from the rules (``make docs``)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from imageforge.lint import RULES, readme_counts, rule_page, update_counts, write_rule_docs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def test_every_rule_has_its_page_and_every_page_a_rule() -> None:
    pages = {p.stem for p in DOCS.glob("IF*.md")}
    assert pages == {r.id for r in RULES}


def test_pages_are_up_to_date() -> None:
    stale = [r.id for r in RULES if (DOCS / f"{r.id}.md").read_text() != rule_page(r)]
    assert stale == [], "run `make docs`"


def test_write_rule_docs_removes_stale_pages(tmp_path: Path) -> None:
    (tmp_path / "IF999.md").write_text("gone")
    written = write_rule_docs(tmp_path)
    assert {p.name for p in written} == {f"{r.id}.md" for r in RULES}
    assert not (tmp_path / "IF999.md").exists()
    assert "IF501" in (tmp_path / "README.md").read_text()


def test_hadolint_mapping_doc_matches_the_table() -> None:
    import re

    from imageforge.lint import DL_TO_IF

    doc = (DOCS.parent / "hadolint-mapping.md").read_text()
    rows = re.findall(r"^\| (DL\d{4}) \|[^|]*\| (IF\d{3}) ", doc, re.MULTILINE)
    assert dict(rows) == {dl: ifs[0] for dl, ifs in DL_TO_IF.items()}


_COMMAND_FLAG = re.compile(r"imageforge ((?:[a-z][a-z-]* )+)(--[a-z][a-z-]*)")


def test_commands_and_flags_the_rules_name_exist() -> None:
    """Advice that names a command line must name one a user can type (IF601 once said
    ``context --write``, which does not exist)."""
    from imageforge.cli import app

    named = 0
    for r in RULES:
        for text in (r.hint, r.why, r.message):
            for m in _COMMAND_FLAG.finditer(text):
                command: click.Command = app
                for word in m.group(1).split():
                    assert isinstance(command, click.Group), (r.id, m.group(0))
                    found = command.get_command(click.Context(command), word)
                    assert found is not None, (
                        f"{r.id} names a command that does not exist: {m.group(0)}"
                    )
                    command = found
                    if not isinstance(command, click.Group):
                        break
                flags = {o for p in command.params for o in p.opts}
                assert m.group(2) in flags, f"{r.id} names a flag that does not exist: {m.group(0)}"
                named += 1
    assert named >= 1  # IF601 names the context command's flag


def test_readme_counts_are_current() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "<!-- count:lint-rules -->" in readme
    assert update_counts(readme, readme_counts()) == readme, "run `make docs`"
    assert readme_counts()["lint-rules"] == len(RULES)


def test_update_counts_refuses_a_count_nobody_keeps() -> None:
    assert update_counts("<!-- count:lint-rules -->1<!-- /count -->", {"lint-rules": 9}) == (
        "<!-- count:lint-rules -->9<!-- /count -->"
    )
    with pytest.raises(KeyError):
        update_counts("<!-- count:stars -->5<!-- /count -->", {"lint-rules": 9})
