"""Every rule of the standard, in id order."""

from __future__ import annotations

from collections.abc import Iterator

from imageforge.errors import NotFound
from imageforge.lint._model import Hit, LintInput, Rule
from imageforge.lint._rules_base import BASE_RULES
from imageforge.lint._rules_cache import CACHE_RULES
from imageforge.lint._rules_context import CONTEXT_RULES
from imageforge.lint._rules_hygiene import HYGIENE_RULES
from imageforge.lint._rules_lock import LOCK_RULES
from imageforge.lint._rules_privilege import PRIVILEGE_RULES
from imageforge.lint._rules_stages import STAGE_RULES
from imageforge.report import Severity

__all__ = ["RULES", "SYNTAX", "rule"]


def _parsed(_lint: LintInput) -> Iterator[Hit]:
    return iter(())  # reported by lint_source when the parser refuses the file


SYNTAX = Rule(
    id="IF001",
    slug="dockerfile-syntax",
    section="all",
    severity=Severity.ERROR,
    title="The Dockerfile does not parse",
    message="The Dockerfile cannot be parsed.",
    hint="Fix the syntax at this position; imageforge parse shows how it is read.",
    why="Nothing else can be checked in a file BuildKit would refuse; the build would "
    "fail at this line.",
    bad="FROM alpine:3.20\nFRM scratch\n",
    good="FROM alpine:3.20\nRUN true\n",
    check=_parsed,
)

RULES: tuple[Rule, ...] = tuple(
    sorted(
        (
            SYNTAX,
            *BASE_RULES,
            *CACHE_RULES,
            *LOCK_RULES,
            *STAGE_RULES,
            *PRIVILEGE_RULES,
            *CONTEXT_RULES,
            *HYGIENE_RULES,
        ),
        key=lambda r: r.id,
    )
)


def rule(rule_id: str) -> Rule:
    """The rule with id ``rule_id`` (``IF101``) or slug (``base-latest-tag``)."""
    for r in RULES:
        if rule_id.upper() == r.id or rule_id == r.slug:
            return r
    raise NotFound(f"no lint rule {rule_id!r}", hint="imageforge lint --list-rules lists them")
