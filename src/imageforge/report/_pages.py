"""Rule documentation as files: one Markdown page per rule and an index, generated from
the rules themselves (``make docs``), so a page never describes a rule that changed or
no longer exists. ``lint`` and ``misconfig`` write their pages through it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_pages"]


def write_pages(
    directory: str | Path, pages: Mapping[str, str], index: str, *, stale: str
) -> list[Path]:
    """Write ``<id>.md`` for each of ``pages`` (id -> text) and ``README.md`` (``index``)
    into ``directory``; remove the pages matching the glob ``stale`` whose id is not in
    ``pages`` (rules that no longer exist). Returns the rule pages written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rule_id, text in pages.items():
        page = out / f"{rule_id}.md"
        page.write_text(text, encoding="utf-8")
        written.append(page)
    (out / "README.md").write_text(index, encoding="utf-8")
    known = {p.name for p in written}
    for old in out.glob(stale):
        if old.name not in known:
            old.unlink()
    return written
