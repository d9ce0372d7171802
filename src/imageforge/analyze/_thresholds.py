"""CI thresholds: where they come from, and the verdict.

Three rules, named as dive names them (``lowestEfficiency``, ``highestWastedBytes``,
``highestUserWastedPercent``). Each may be set on the command line, in ``[analyze]`` of
``imageforge.toml`` or in a ``.dive-ci`` YAML file (``rules:`` with dive's keys); the
first of those that sets a rule wins, and a rule nobody sets takes dive's default
(0.9, disabled, 0.1). ``disabled`` (or ``off``, ``false``, empty, as dive reads them)
turns a rule off. Messages are dive's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from imageforge.analyze._model import Analysis
from imageforge.analyze._sizes import format_size, parse_size
from imageforge.errors import InvalidArgument, Location, NotFound
from imageforge.policy import AnalyzePolicy

__all__ = [
    "DEFAULT_RULES",
    "Measure",
    "ResolvedRule",
    "RuleResult",
    "RuleStatus",
    "Thresholds",
    "evaluate",
    "load_dive_ci",
    "resolve_rules",
    "thresholds_from_policy",
]

LOWEST_EFFICIENCY: Final = "lowestEfficiency"
HIGHEST_WASTED_BYTES: Final = "highestWastedBytes"
HIGHEST_USER_WASTED_PERCENT: Final = "highestUserWastedPercent"
RULE_KEYS: Final = (LOWEST_EFFICIENCY, HIGHEST_WASTED_BYTES, HIGHEST_USER_WASTED_PERCENT)
DEFAULT_RULES: Final[dict[str, str]] = {
    LOWEST_EFFICIENCY: "0.9",
    HIGHEST_WASTED_BYTES: "disabled",
    HIGHEST_USER_WASTED_PERCENT: "0.1",
}


class Measure(enum.StrEnum):
    """Which numbers the rules judge: dive's (so a ``.dive-ci`` gives dive's verdict) or
    imageforge's own."""

    DIVE = "dive"
    IMAGEFORGE = "imageforge"


def _disabled(value: object) -> bool:
    return value is None or str(value).strip().lower() in ("", "disabled", "off", "false")


@dataclass(frozen=True)
class Thresholds:
    """One source's rule settings: rule key -> raw value (a number, a size such as
    ``20MB``, or ``disabled``); keys it does not set are absent. ``source`` names where
    they came from, for messages."""

    values: tuple[tuple[str, str], ...] = ()
    source: str = "defaults"

    @classmethod
    def of(cls, source: str, **values: object) -> Thresholds:
        """From keyword arguments named as the rules; None means "not set"."""
        return cls(
            tuple((k, str(v)) for k, v in values.items() if v is not None and k in RULE_KEYS),
            source,
        )

    def get(self, key: str) -> str | None:
        return dict(self.values).get(key)


def thresholds_from_policy(policy: AnalyzePolicy, source: str | None) -> Thresholds:
    """The ``[analyze]`` section of the policy file as :class:`Thresholds`."""
    return Thresholds.of(
        source or "imageforge.toml",
        lowestEfficiency=policy.lowest_efficiency,
        highestWastedBytes=policy.highest_wasted_bytes,
        highestUserWastedPercent=policy.highest_user_wasted_percent,
    )


def load_dive_ci(path: str | Path) -> Thresholds:
    """Read a ``.dive-ci`` file: ``rules:`` with dive's three keys."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"CI rules file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read CI rules file {p}: {exc}") from None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        col = mark.column + 1 if mark is not None else 0
        raise InvalidArgument(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            location=Location(str(p), line, col),
        ) from None
    if data is None:
        return Thresholds(source=str(p))
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(rules, dict | None):
        raise InvalidArgument(
            "expected a mapping with a 'rules:' mapping",
            location=Location(str(p)),
            hint=f"rules: {{{', '.join(k + ': ...' for k in RULE_KEYS)}}}",
        )
    rules = rules or {}
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise InvalidArgument(
            f"unknown rule {unknown[0]!r} in 'rules'",
            location=Location(str(p)),
            hint=f"dive's rules are {', '.join(RULE_KEYS)}",
        )
    return Thresholds.of(str(p), **{k: ("disabled" if v is None else v) for k, v in rules.items()})


class RuleStatus(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    DISABLED = "disabled"


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule: ``configured`` is the raw setting, ``source`` where it
    came from, ``value`` the measured number."""

    rule: str
    status: RuleStatus
    configured: str
    source: str
    value: float
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status.value,
            "threshold": self.configured,
            "source": self.source,
            "value": self.value,
            "message": self.message,
        }


def _fraction(raw: str, key: str, source: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidArgument(
            f"invalid {key} value {raw!r} (from {source})",
            hint="use a number from 0 to 1, or 'disabled'",
        ) from None
    if not 0 <= value <= 1:
        raise InvalidArgument(
            f"{key} value {raw!r} (from {source}) is outside the allowed range 0-1",
            hint="use a number from 0 to 1, or 'disabled'",
        )
    return value


@dataclass(frozen=True)
class ResolvedRule:
    """A rule with its winning setting: ``limit`` is None when it is disabled."""

    rule: str
    configured: str
    source: str
    limit: float | None


def resolve_rules(*sources: Thresholds) -> list[ResolvedRule]:
    """For each rule the first of ``sources`` that sets it wins (pass them highest
    precedence first), else dive's default; every value is checked here, so a bad
    threshold fails before any layer is read."""
    resolved = []
    for key in RULE_KEYS:
        raw, source = DEFAULT_RULES[key], "dive's default"
        for s in sources:
            value = s.get(key)
            if value is not None:
                raw, source = value, s.source
                break
        limit: float | None
        if _disabled(raw):
            limit = None
        elif key == HIGHEST_WASTED_BYTES:
            limit = float(parse_size(raw, what=f"{key} (from {source})"))
        else:
            limit = _fraction(raw, key, source)
        resolved.append(ResolvedRule(key, raw, source, limit))
    return resolved


def evaluate(
    analysis: Analysis, rules: list[ResolvedRule], *, measure: Measure = Measure.DIVE
) -> list[RuleResult]:
    """Judge ``analysis`` by ``rules`` (from :func:`resolve_rules`) on dive's numbers or
    imageforge's own."""
    if measure is Measure.DIVE:
        efficiency = analysis.dive.efficiency
        wasted = analysis.dive.wasted_bytes
        percent = analysis.dive.user_wasted_percent
    else:
        efficiency = analysis.waste.efficiency
        wasted = analysis.waste.wasted_bytes
        percent = analysis.waste.user_wasted_percent
    results = []
    for rule in rules:
        key, raw, limit = rule.rule, rule.configured, rule.limit
        measured = {
            LOWEST_EFFICIENCY: efficiency,
            HIGHEST_WASTED_BYTES: float(wasted),
            HIGHEST_USER_WASTED_PERCENT: percent,
        }[key]
        if limit is None:
            status, message = RuleStatus.DISABLED, "rule disabled"
        elif key == LOWEST_EFFICIENCY:
            failed = limit > efficiency
            message = f"image efficiency is too low (efficiency={efficiency:.2f} < threshold={raw})"
        elif key == HIGHEST_WASTED_BYTES:
            failed = wasted > limit
            message = (
                f"too many bytes wasted (wasted-bytes={wasted} ({format_size(wasted)}) "
                f"> threshold={raw})"
            )
        else:
            failed = percent > limit
            message = (
                "too many bytes wasted, relative to the user bytes added "
                f"(%-user-wasted-bytes={percent:.2f} > threshold={raw})"
            )
        if limit is not None:
            status = RuleStatus.FAIL if failed else RuleStatus.PASS
            message = message if failed else ""
        results.append(RuleResult(key, status, raw, rule.source, measured, message))
    return results
