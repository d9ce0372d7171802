from __future__ import annotations

from pathlib import Path

from imageforge.lint import lint_path, lint_source
from imageforge.policy import LintPolicy


def ids(text: str, policy: LintPolicy | None = None) -> list[str]:
    """The rule ids ``text`` triggers."""
    return [f.rule_id for f in lint_source(text, policy=policy)]


def ids_in_context(root: Path, dockerfile: str, files: tuple[tuple[str, str], ...]) -> list[str]:
    """Write a build context (Dockerfile + files) under ``root`` and lint it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for rel, content in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    _shown, findings = lint_path(root)
    return [f.rule_id for f in findings]
