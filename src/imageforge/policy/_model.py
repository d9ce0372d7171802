"""Typed sections of the policy file."""

from __future__ import annotations

from dataclasses import dataclass, field

from imageforge.errors import InvalidArgument
from imageforge.policy._environments import EnvironmentPolicy
from imageforge.policy._scan import ScanPolicy

__all__ = ["AnalyzePolicy", "LintPolicy", "Policy", "RuleSpec"]


@dataclass(frozen=True)
class RuleSpec:
    """A declarative lint rule from ``[[lint.rules]]``: a finding on every
    ``instruction`` (keyword, upper case) whose text matches ``pattern`` (a Python
    regular expression, searched)."""

    id: str
    instruction: str
    pattern: str
    message: str
    severity: str = "warning"
    hint: str = ""


@dataclass(frozen=True)
class LintPolicy:
    """``[lint]``: which rules run, at what severity, and when lint fails.

    ``enable``: when not empty, only rules whose id starts with one of these run
    (``IF5`` selects a group); ``disable``: rules (or id prefixes) that never run;
    ``severity``: rule id -> severity name; ``trusted_registries``: registries a FROM may
    pull from (empty: any); ``required_labels``: LABEL keys the final stage must set;
    ``strict_labels``: LABEL keys outside ``required_labels`` are reported (hadolint's
    strict-labels); ``failure_threshold``: a severity name or ``none``."""

    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()
    trusted_registries: tuple[str, ...] = ()
    required_labels: tuple[str, ...] = ()
    strict_labels: bool = False
    failure_threshold: str | None = None
    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True)
class AnalyzePolicy:
    """``[analyze]``: CI thresholds of ``imageforge analyze --ci``, named as dive's
    rules; each None (not set), a number, a size (``20MB``) or ``"disabled"``."""

    lowest_efficiency: float | str | None = None
    highest_wasted_bytes: int | str | None = None
    highest_user_wasted_percent: float | str | None = None


@dataclass(frozen=True)
class Policy:
    """The whole policy; ``source`` is the file it came from (None: defaults)."""

    lint: LintPolicy = field(default_factory=LintPolicy)
    analyze: AnalyzePolicy = field(default_factory=AnalyzePolicy)
    scan: ScanPolicy = field(default_factory=ScanPolicy)
    environments: tuple[EnvironmentPolicy, ...] = ()
    source: str | None = None

    def environment(self, name: str) -> EnvironmentPolicy:
        """The environment called ``name``, or an error naming those there are."""
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.environments) or "none"
        raise InvalidArgument(
            f"no environment {name!r} in the policy{f' {self.source}' if self.source else ''}",
            hint=f"environments: {known}; add [environments.{name}] with a registry",
        )

    def next_environment(self, name: str) -> EnvironmentPolicy | None:
        """The environment after ``name`` in the file's order (None: ``name`` is last)."""
        names = [e.name for e in self.environments]
        at = names.index(self.environment(name).name)
        return self.environments[at + 1] if at + 1 < len(names) else None
