"""One page per rule in docs/rules, generated from the rules (``make docs``)."""

from __future__ import annotations

from pathlib import Path

from imageforge.lint import RULES, rule_page, write_rule_docs

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
