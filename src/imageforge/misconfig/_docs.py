"""One Markdown page per check (``docs/misconfig/IMnnn.md``) and an index, generated from
the checks (``make docs``) through the report's page writer, as lint's rule pages are."""

from __future__ import annotations

from pathlib import Path

from imageforge.misconfig._checks import CHECKS
from imageforge.misconfig._model import Check
from imageforge.report import write_pages

__all__ = ["check_page", "write_check_docs"]


def check_page(c: Check) -> str:
    lines = [
        f"# {c.id} {c.slug}",
        "",
        f"**{c.title}**",
        "",
        f"- severity: {c.severity}",
        f"- guide section: {c.section}",
        "- checked on the built image (its config, history and files), from any source",
        "",
        "## Why",
        "",
        c.why,
        "",
        "## What to do",
        "",
        c.hint,
        "",
        "## Fails",
        "",
        "An image built from:",
        "",
        "```dockerfile",
        c.bad.rstrip("\n"),
        "```",
        "",
        "## Passes",
        "",
        "```dockerfile",
        c.good.rstrip("\n"),
        "```",
        "",
        "## Silencing it",
        "",
        f'Everywhere: `disable = ["{c.id}"]` under `[scan.misconfig]` in `imageforge.toml`; '
        f'with a reason and an expiry date: `"{c.id}" = {{ reason = "...", expires = '
        "2027-01-31 }` under `[scan.ignore]`.",
        "",
    ]
    return "\n".join(lines)


def index_page() -> str:
    lines = [
        "# imageforge image configuration checks (`scan --scanners misconfig`)",
        "",
        "| id | name | severity | section | title |",
        "|---|---|---|---|---|",
    ]
    for c in CHECKS:
        lines.append(f"| [{c.id}]({c.id}.md) | {c.slug} | {c.severity} | {c.section} | {c.title} |")
    return "\n".join(lines) + "\n"


def write_check_docs(directory: str | Path) -> list[Path]:
    """Write ``IMnnn.md`` for every check and ``README.md`` into ``directory``; remove
    pages of checks that no longer exist."""
    return write_pages(
        directory, {c.id: check_page(c) for c in CHECKS}, index_page(), stale="IM*.md"
    )
