"""One Markdown page per rule, generated from the rules themselves (``make docs``)."""

from __future__ import annotations

import re
from pathlib import Path

from imageforge.lint._model import Rule
from imageforge.lint._rules import RULES
from imageforge.report import write_pages

__all__ = ["readme_counts", "rule_page", "update_counts", "write_rule_docs"]


def _context_block(files: tuple[tuple[str, str], ...]) -> list[str]:
    if not files:
        return []
    out = ["", "Build context:", "", "```text"]
    out += [f"{path}: {content.strip()!r}" for path, content in files]
    out.append("```")
    return out


def rule_page(rule: Rule) -> str:
    lines = [
        f"# {rule.id} {rule.slug}",
        "",
        f"**{rule.title}**",
        "",
        f"- severity: {rule.severity.value}",
        f"- guide section: {rule.section}",
    ]
    if rule.needs_context:
        lines.append("- runs only when the build context is known")
    lines += [
        "",
        "## Why",
        "",
        rule.why,
        "",
        "## What to do",
        "",
        rule.hint,
        "",
        "## Fails",
        "",
        "```dockerfile",
        rule.bad.rstrip("\n"),
        "```",
        *_context_block(rule.bad_context),
        "",
        "## Passes",
        "",
        "```dockerfile",
        rule.good.rstrip("\n"),
        "```",
        *_context_block(rule.good_context),
        "",
        "## Silencing it",
        "",
        f"On the line before the instruction: `# imageforge: ignore={rule.id}`; everywhere: "
        f'`disable = ["{rule.id}"]` under `[lint]` in `imageforge.toml`.',
        "",
    ]
    return "\n".join(lines)


def index_page() -> str:
    lines = [
        "# imageforge lint rules",
        "",
        "| id | name | severity | section | title |",
        "|---|---|---|---|---|",
    ]
    for r in RULES:
        lines.append(
            f"| [{r.id}]({r.id}.md) | {r.slug} | {r.severity.value} | {r.section} | {r.title} |"
        )
    return "\n".join(lines) + "\n"


def write_rule_docs(directory: str | Path) -> list[Path]:
    """Write ``IFnnn.md`` for every rule and ``README.md`` (an index) into
    ``directory``; remove pages of rules that no longer exist. Returns the pages."""
    pages = {r.id: rule_page(r) for r in RULES}
    return write_pages(directory, pages, index_page(), stale="IF*.md")


_COUNT = re.compile(r"<!-- count:(?P<name>[a-z-]+) -->(?P<value>\d*)<!-- /count -->")


def readme_counts() -> dict[str, int]:
    """The numbers the README states, from the code (``<!-- count:NAME -->``)."""
    return {"lint-rules": len(RULES), "lint-fixes": sum(1 for r in RULES if r.fix is not None)}


def update_counts(text: str, counts: dict[str, int]) -> str:
    """``text`` with each ``<!-- count:NAME -->N<!-- /count -->`` set from ``counts``;
    a name ``counts`` lacks is an error, so a README cannot name a count nobody keeps."""

    def one(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in counts:
            raise KeyError(f"the README names count {name!r}, which readme_counts() lacks")
        return f"<!-- count:{name} -->{counts[name]}<!-- /count -->"

    return _COUNT.sub(one, text)
