"""The standard: every practice of the guide's sections 1 to 4 as a lint rule.

Rules are data (:class:`Rule`: id ``IFnnn`` grouped by guide section, slug, severity,
title, message, why, a failing and a passing example) plus a ``check`` over the typed
instructions of :mod:`imageforge.dockerfile` and, when the build context is known, its
:class:`~imageforge.dockerfile.ContextReport`. :func:`lint` returns
:class:`~imageforge.report.Finding` values; :func:`make_report` wraps them for the
shared writers. Which rules run and how severe they are comes from the ``[lint]``
section of the policy file; ``# imageforge: ignore=IF101,IF205`` on the line before an
instruction silences rules there. Some rules carry a ``fix``: :func:`fix_source`
applies them (``imageforge lint --fix`` / ``--diff``). A team adds its own rules
through the ``imageforge.rules`` entry point group or ``[[lint.rules]]`` in the policy
(:func:`all_rules`).

Groups: IF1xx base image (1.1), IF2xx layering and cache (1.2, 4.1), IF3xx dependency
locking (2.1), IF4xx multi-stage (2.2), IF5xx least privilege (3.1), IF6xx build
context (1.2, 6.1), IF7xx general Dockerfile hygiene (hadolint's DL rules, see
docs/hadolint-mapping.md).
"""

from imageforge.lint._check import (
    Fixed,
    active_rules,
    fix_path,
    fix_source,
    lint,
    lint_file,
    lint_path,
    lint_paths,
    lint_source,
    make_report,
)
from imageforge.lint._custom import ENTRY_POINT_GROUP, all_rules, plugin_rules
from imageforge.lint._docs import readme_counts, rule_page, update_counts, write_rule_docs
from imageforge.lint._hadolint import DL_TO_IF, hadolint_policy, to_if_ids
from imageforge.lint._model import Edit, Fix, Hit, LintInput, Rule, hit
from imageforge.lint._rules import RULES, rule

__all__ = [
    "DL_TO_IF",
    "ENTRY_POINT_GROUP",
    "RULES",
    "Edit",
    "Fix",
    "Fixed",
    "Hit",
    "LintInput",
    "Rule",
    "active_rules",
    "all_rules",
    "fix_path",
    "fix_source",
    "lint",
    "lint_file",
    "lint_path",
    "lint_paths",
    "lint_source",
    "hadolint_policy",
    "hit",
    "make_report",
    "plugin_rules",
    "rule",
    "rule_page",
    "to_if_ids",
    "write_rule_docs",
    "readme_counts",
    "update_counts",
]
