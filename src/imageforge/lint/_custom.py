"""A team's own rules beside the standard's: Python rules from installed distributions
(the entry point group ``imageforge.rules``) and declarative ones from the policy file
(``[[lint.rules]]``: instruction + regular expression + message + severity + id).

An entry point loads to a :class:`~imageforge.lint.Rule` or an iterable of them::

    [project.entry-points."imageforge.rules"]
    acme = "acme_rules:RULES"

Entry points are read once per process (:func:`importlib.metadata.entry_points`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from importlib.metadata import entry_points

from imageforge.errors import InvalidArgument
from imageforge.lint._model import Check, Hit, LintInput, Rule, hit
from imageforge.lint._rules import RULES
from imageforge.policy import LintPolicy, RuleSpec
from imageforge.report import Severity

__all__ = ["ENTRY_POINT_GROUP", "all_rules", "declared_rule", "plugin_rules"]

ENTRY_POINT_GROUP = "imageforge.rules"


@functools.cache
def plugin_rules() -> tuple[Rule, ...]:
    """The rules of every installed ``imageforge.rules`` entry point, by id."""
    found: list[Rule] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"entry point {ep.name} = {ep.value}"
        try:
            obj = ep.load()
        except Exception as exc:  # a plugin's import error is its own, any kind
            raise InvalidArgument(
                f"cannot load lint rules from {where}: {exc}",
                hint="fix or uninstall the distribution that declares it",
            ) from None
        rules = [obj] if isinstance(obj, Rule) else list(obj) if _iterable(obj) else [obj]
        for r in rules:
            if not isinstance(r, Rule):
                raise InvalidArgument(
                    f"{where} gives {type(r).__name__}, not an imageforge.lint.Rule"
                )
        found += rules
    return tuple(sorted(found, key=lambda r: r.id))


def _iterable(obj: object) -> bool:
    return isinstance(obj, list | tuple | set | frozenset)


def _declared_check(spec: RuleSpec, regex: re.Pattern[str]) -> Check:
    def check(lint: LintInput) -> Iterator[Hit]:
        for stage in lint.dockerfile.stages:
            for instr in (stage.from_, *stage.instructions):
                if instr.keyword == spec.instruction and regex.search(instr.source):
                    yield hit(instr)

    return check


def declared_rule(spec: RuleSpec) -> Rule:
    """The rule a ``[[lint.rules]]`` entry describes."""
    return Rule(
        id=spec.id,
        slug=spec.id.lower(),
        section="custom",
        severity=Severity(spec.severity),
        title=spec.message,
        message=spec.message,
        hint=spec.hint,
        why=f"A rule of this project's policy: {spec.instruction} matching /{spec.pattern}/.",
        bad="",
        good="",
        check=_declared_check(spec, re.compile(spec.pattern)),
    )


@functools.lru_cache(maxsize=32)
def all_rules(policy: LintPolicy) -> tuple[Rule, ...]:
    """The standard's rules, the installed plugins' and the policy's own, in id order;
    an id used twice is an error naming it."""
    rules = [*RULES, *plugin_rules(), *(declared_rule(s) for s in policy.rules)]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise InvalidArgument(
                f"lint rule id {r.id} is defined twice",
                hint="custom rules need ids of their own (not IF..., not another plugin's)",
            )
        seen.add(r.id)
    return tuple(sorted(rules, key=lambda r: r.id))
