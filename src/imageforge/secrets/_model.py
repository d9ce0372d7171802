"""Secret rules and allow rules as data.

A :class:`SecretRule` is what one kind of secret looks like: a regular expression over
bytes (its ``secret`` group is the value; without one, the whole match), the keywords
that must occur before the expression is tried (compared case-insensitively, as trivy
does), where it applies (file paths, the image config's places) and the checks a value
must pass (entropy, a format check, not a placeholder). An :class:`AllowRule` says what
is not a finding: files by path, values by expression, each for every rule or only for
some."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CONFIG_PLACES",
    "PLACES",
    "AllowRule",
    "SecretRule",
    "entropy",
]

PLACES: Final = frozenset({"file", "env", "label", "history", "annotation", "cmd"})
"""Where a secret can be: a file of a layer (or of a directory), an ``Env`` entry (and a
build argument recorded in the history), a label, a history entry's ``created_by``, a
manifest annotation, the ``Entrypoint``/``Cmd``."""

CONFIG_PLACES: Final = PLACES - {"file"}


def entropy(value: bytes) -> float:
    """Shannon entropy of ``value`` in bits per byte (0 for an empty value)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


@dataclass(frozen=True)
class SecretRule:
    """One kind of secret.

    ``regex`` is searched in a file's bytes (or a config value); the group named
    ``secret`` (or ``secret_group``) is the value, else the whole match. ``keywords``
    (lower case) must occur in the text, in any case, before ``regex`` is tried; a rule
    without keywords is tried on every text. ``before``, when set, must match (ending
    with ``\\Z``) the text just before a match: a left boundary checked after the
    expression, so the expression can start with a literal (Python's ``re`` finds a
    literal start far faster than it tries a look-behind everywhere). ``path`` limits
    the rule to files whose path (relative, no leading ``/``) it matches; ``places`` says which of
    :data:`PLACES` it applies to. A value is a finding only if its entropy is at least
    ``min_entropy``, ``check`` (when set) accepts it and, with ``placeholders``, it
    is not a placeholder such as ``${TOKEN}`` or ``changeme``. ``binary``: also scan
    files that look binary. ``allow``: allow rules of this rule alone; ``exclude``:
    expressions whose matches are regions where this rule reports nothing."""

    id: str
    category: str
    title: str
    severity: str
    regex: re.Pattern[bytes]
    keywords: tuple[bytes, ...] = ()
    before: re.Pattern[bytes] | None = None
    path: re.Pattern[str] | None = None
    places: frozenset[str] = PLACES
    secret_group: str = "secret"
    min_entropy: float = 0.0
    check: Callable[[bytes], bool] | None = field(default=None, compare=False)
    placeholders: bool = False
    binary: bool = False
    allow: tuple[AllowRule, ...] = ()
    exclude: tuple[re.Pattern[bytes], ...] = ()
    builtin: bool = True
    description: str = ""

    def applies(self, place: str, path: str) -> bool:
        """Whether the rule is tried on ``path`` found in ``place``."""
        if place not in self.places:
            return False
        return place != "file" or self.path is None or self.path.search(path) is not None


@dataclass(frozen=True)
class AllowRule:
    """What is not a finding. Every condition given must hold: ``path`` (a file's path,
    relative, no leading ``/``), ``regex`` (searched in the secret value), ``rules``
    (the rule ids it is for; empty: every rule). A rule with neither ``path`` nor
    ``regex`` allows everything its ``rules`` find. ``origin`` says where it came
    from (``builtin``, the policy file, a trivy-secret.yaml)."""

    id: str
    description: str = ""
    path: re.Pattern[str] | None = None
    regex: re.Pattern[bytes] | None = None
    rules: frozenset[str] = frozenset()
    origin: str = "builtin"

    def covers_rule(self, rule_id: str) -> bool:
        return not self.rules or rule_id in self.rules

    def allows_path(self, path: str) -> bool:
        """Whether every file at ``path`` is allowed (a path rule without a value
        condition)."""
        return self.regex is None and self.path is not None and self.path.search(path) is not None

    def allows(self, rule_id: str, path: str | None, value: bytes) -> bool:
        """Whether the finding of ``rule_id`` with ``value`` (at ``path``, None for a
        config value) is allowed."""
        if not self.covers_rule(rule_id):
            return False
        if self.path is not None and (path is None or self.path.search(path) is None):
            return False
        return self.regex is None or self.regex.search(value) is not None
