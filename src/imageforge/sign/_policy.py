"""An attestation policy: the predicate types an image must carry, verified, and
conditions on what they say. A TOML file::

    # every rule names a predicate type (a --type short name or a URI) ...
    [[attestation]]
    type = "vuln"
    # ... and conditions on its predicate: a JMESPath expression and one test
    [[attestation.condition]]
    path = "scanner.result.Results[].Vulnerabilities[].Severity"
    none_of = ["CRITICAL"]
    message = "no CRITICAL vulnerability"   # optional: said when it fails

    [[attestation]]
    type = "slsaprovenance1"
    [[attestation.condition]]
    path = "buildDefinition.externalParameters.source"
    equals = "https://git.example.com/app.git"

The tests, one per condition, over the values the path finds (a list is its elements,
nothing found is no value): ``equals = V`` (at least one value, every one V),
``one_of = [...]`` (at least one, every one in the list), ``none_of = [...]`` (none in
the list; no value passes), ``matches = "REGEX"`` (at least one, every one a string the
expression matches whole), ``exists = true|false``.

A rule holds when there is a verified attestation of its type and every one of them
meets all its conditions (so an old clean scan cannot outvote a new one that found a
CRITICAL); the policy holds when every rule does. JMESPath (the ``jmespath`` library, the query
language of the AWS CLI and Ansible) is the path language, so no expression syntax is
made up here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import jmespath
import jmespath.exceptions
import jmespath.parser

from imageforge.errors import InvalidArgument, Location
from imageforge.sign._errors import VerificationFailed
from imageforge.sign._intoto import Statement, predicate_type

__all__ = ["AttestationPolicy", "Condition", "Rule"]

_TESTS: Final = ("equals", "one_of", "none_of", "matches", "exists")
_RULE_KEYS: Final = frozenset({"type", "condition"})
_CONDITION_KEYS: Final = frozenset({"path", "message", *_TESTS})


def _values(found: Any) -> list[Any]:
    if found is None:
        return []
    if isinstance(found, list):
        return [v for v in found if v is not None]
    return [found]


@dataclass(frozen=True)
class Condition:
    """One test on the values ``path`` finds in a predicate."""

    path: str
    test: str
    expected: Any
    message: str
    expression: jmespath.parser.ParsedResult

    def failure(self, predicate: Any) -> str | None:
        """Why ``predicate`` fails the condition, or None when it meets it."""
        values = _values(self.expression.search(predicate))
        shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
        if self.test == "exists":
            if bool(values) != self.expected:
                return f"{self.path} is {'missing' if self.expected else 'present'}"
            return None
        if self.test == "none_of":
            bad = [v for v in values if v in self.expected]
            return f"{self.path} has {bad[0]!r} ({len(bad)} found)" if bad else None
        if not values:
            return f"{self.path} is missing"
        if self.test == "equals":
            ok = all(v == self.expected for v in values)
        elif self.test == "one_of":
            ok = all(v in self.expected for v in values)
        else:
            ok = all(isinstance(v, str) and re.fullmatch(self.expected, v) for v in values)
        return None if ok else f"{self.path} is {shown}"

    def describe(self) -> str:
        if self.message:
            return self.message
        return f"{self.path} {self.test.replace('_', ' ')} {self.expected!r}"


@dataclass(frozen=True)
class Rule:
    """A predicate type that must be attested, and the conditions on its content."""

    predicate_type: str
    conditions: tuple[Condition, ...]

    def failure(self, predicate: Any) -> str | None:
        for condition in self.conditions:
            why = condition.failure(predicate)
            if why is not None:
                return f"{condition.describe()}: {why}"
        return None


def _condition(data: Any, where: str, what: str) -> Condition:
    def bad(detail: str) -> InvalidArgument:
        return InvalidArgument(f"{where}: {detail}", location=Location(what))

    if not isinstance(data, dict):
        raise bad("a condition is a table")
    unknown = set(data) - _CONDITION_KEYS
    if unknown:
        raise bad(
            f"unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_CONDITION_KEYS))})"
        )
    path = data.get("path")
    if not isinstance(path, str) or not path:
        raise bad("path (a JMESPath expression) missing")
    tests = [t for t in _TESTS if t in data]
    if len(tests) != 1:
        raise bad("give exactly one of " + ", ".join(_TESTS))
    test, expected = tests[0], data[tests[0]]
    if test in ("one_of", "none_of") and not isinstance(expected, list):
        raise bad(f"{test} is a list")
    if test == "exists" and not isinstance(expected, bool):
        raise bad("exists is true or false")
    if test == "matches":
        if not isinstance(expected, str):
            raise bad("matches is a regular expression (a string)")
        try:
            re.compile(expected)
        except re.error as exc:
            raise bad(f"matches: not a regular expression ({exc})") from None
    message = data.get("message", "")
    if not isinstance(message, str):
        raise bad("message is a string")
    try:
        expression = jmespath.compile(path)
    except jmespath.exceptions.JMESPathError as exc:
        raise bad(
            f"path {path!r} is not a JMESPath expression ({str(exc).splitlines()[0]})"
        ) from None
    return Condition(path, test, expected, message, expression)


@dataclass(frozen=True)
class AttestationPolicy:
    """Rules an image's attestations must meet (see the module's docstring)."""

    rules: tuple[Rule, ...]

    @property
    def predicate_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.predicate_type for r in self.rules))

    @classmethod
    def parse(cls, text: str, *, what: str = "policy") -> AttestationPolicy:
        """A policy from TOML ``text``; a mistake is an :class:`InvalidArgument` naming
        ``what`` and the rule."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgument(f"not TOML: {exc}", location=Location(what)) from None
        unknown = set(data) - {"attestation"}
        if unknown:
            raise InvalidArgument(
                f"unknown table {sorted(unknown)[0]!r}",
                location=Location(what),
                hint="a policy holds [[attestation]] rules only",
            )
        rules_in = data.get("attestation")
        if not isinstance(rules_in, list) or not rules_in:
            raise InvalidArgument(
                "no [[attestation]] rule", location=Location(what), hint="see docs/signing.md"
            )
        rules = []
        for i, rule in enumerate(rules_in):
            where = f"attestation[{i}]"
            if not isinstance(rule, dict) or set(rule) - _RULE_KEYS:
                raise InvalidArgument(
                    f"{where}: a rule has a type and conditions only", location=Location(what)
                )
            kind = rule.get("type")
            if not isinstance(kind, str):
                raise InvalidArgument(f"{where}: type missing", location=Location(what))
            try:
                ptype = predicate_type(kind)
            except InvalidArgument as exc:
                raise InvalidArgument(
                    f"{where}: {exc.message}", location=Location(what), hint=exc.hint
                ) from None
            conditions_in = rule.get("condition", [])
            if not isinstance(conditions_in, list):
                raise InvalidArgument(
                    f"{where}: condition is a list of tables ([[attestation.condition]])",
                    location=Location(what),
                )
            conditions = tuple(
                _condition(c, f"{where}.condition[{j}]", what) for j, c in enumerate(conditions_in)
            )
            rules.append(Rule(ptype, conditions))
        return cls(tuple(rules))

    def check(self, statements: Sequence[Statement]) -> None:
        """Return when, for every rule, ``statements`` (verified already) hold one of
        its type and all of those meet its conditions; else
        :class:`VerificationFailed` (``policy-violation``) naming the rule."""
        for rule in self.rules:
            of_type = [s for s in statements if s.predicate_type == rule.predicate_type]
            if not of_type:
                raise VerificationFailed(
                    f"the policy requires a {rule.predicate_type} attestation; none verified",
                    reason="policy-violation",
                    hint="attest the image with that predicate type (imageforge attest)",
                )
            for i, statement in enumerate(of_type):
                why = rule.failure(statement.predicate)
                if why is not None:
                    which = f" ({i + 1} of {len(of_type)})" if len(of_type) > 1 else ""
                    raise VerificationFailed(
                        f"the {rule.predicate_type} attestation{which} does not meet the "
                        f"policy: {why}",
                        reason="policy-violation",
                    )
