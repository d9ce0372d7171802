"""Retention rules (Harbor's model) and what they keep, with no I/O.

A policy is a list of rules. Each rule selects artifacts by repository (globs of the
name inside the project, ``**`` crossing ``/``, ``{a,b}`` alternatives, with
exclusions) and by tag (globs with exclusions; untagged artifacts only if the rule says
so), then keeps some of what it selected, per repository: the ``count`` most recently
pushed or pulled, those pushed or pulled within ``days`` days, or all of them. An
artifact is retained if any rule retains it; a policy with rules deletes every other
artifact of the project (a policy without rules deletes nothing). The artifacts are a
repository's top-level manifests: an index's children and the referrers of a manifest
(signatures, attestations) follow their parent, as garbage collection treats them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wcmatch import glob

from imageforge.errors import InvalidArgument

__all__ = [
    "KEEP_KINDS",
    "Artifact",
    "Rule",
    "RetentionPolicy",
    "Verdict",
    "evaluate",
    "policy_from_json",
]

# what a rule keeps of what it selects, and the number it takes (None: none)
KEEP_KINDS = {
    "latest_pushed": "count",
    "latest_pulled": "count",
    "pushed_within": "days",
    "pulled_within": "days",
    "always": None,
}
_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTMATCH
_DAY = 86400.0


def _globs(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise InvalidArgument(f"{where} is not a list of non-empty globs")
    for p in value:
        try:
            glob.translate(p, flags=_FLAGS)  # also refuses braces expanding past 1000 globs
        except Exception as exc:
            raise InvalidArgument(f"{where}: {p!r} is not a glob: {exc}") from None
    return tuple(value)


def _matches(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    return bool(glob.globmatch(name, list(include), flags=_FLAGS)) and not (
        exclude and glob.globmatch(name, list(exclude), flags=_FLAGS)
    )


@dataclass(frozen=True)
class Rule:
    keep: str  # one of KEEP_KINDS
    count: int = 0  # latest_pushed, latest_pulled
    days: float = 0.0  # pushed_within, pulled_within
    repositories: tuple[str, ...] = ("**",)
    exclude_repositories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ("**",)
    exclude_tags: tuple[str, ...] = ()
    untagged: bool = False  # whether untagged artifacts are selected too

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"keep": self.keep}
        if KEEP_KINDS[self.keep] == "count":
            doc["count"] = self.count
        elif KEEP_KINDS[self.keep] == "days":
            doc["days"] = self.days
        doc.update(
            repositories=list(self.repositories),
            exclude_repositories=list(self.exclude_repositories),
            tags=list(self.tags),
            exclude_tags=list(self.exclude_tags),
            untagged=self.untagged,
        )
        return doc

    def describe(self) -> str:
        what = {
            "latest_pushed": f"the {self.count} most recently pushed",
            "latest_pulled": f"the {self.count} most recently pulled",
            "pushed_within": f"those pushed within {self.days:g} days",
            "pulled_within": f"those pulled within {self.days:g} days",
            "always": "all",
        }[self.keep]
        return f"keep {what} of {','.join(self.repositories)}:{','.join(self.tags)}"

    def selects(self, artifact: Artifact, name: str) -> bool:
        """Whether the artifact (in the repository ``name``, inside its project) is
        one this rule looks at."""
        if not _matches(name, self.repositories, self.exclude_repositories):
            return False
        if not artifact.tags:
            return self.untagged
        return any(_matches(t, self.tags, self.exclude_tags) for t in artifact.tags)


def _rule_from_json(doc: object, where: str) -> Rule:
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{where} is not an object")
    known = {"keep", "count", "days", "repositories", "exclude_repositories", "tags"}
    known |= {"exclude_tags", "untagged"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InvalidArgument(f"{where}: unknown field {unknown[0]!r}")
    keep = doc.get("keep")
    if keep not in KEEP_KINDS:
        raise InvalidArgument(f"{where}.keep {keep!r} is not one of {', '.join(KEEP_KINDS)}")
    number = KEEP_KINDS[keep]
    count, days = 0, 0.0
    if number is not None:
        value = doc.get(number)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        if not ok or (number == "count" and not isinstance(value, int)):
            raise InvalidArgument(f"{where}: keep {keep} needs {number}, a number >= 0")
        assert isinstance(value, (int, float))
        count, days = (int(value), 0.0) if number == "count" else (0, float(value))
    untagged = doc.get("untagged", False)
    if not isinstance(untagged, bool):
        raise InvalidArgument(f"{where}.untagged is not true or false")
    return Rule(
        keep,
        count,
        days,
        _globs(doc.get("repositories", ["**"]), f"{where}.repositories"),
        _globs(doc.get("exclude_repositories", []), f"{where}.exclude_repositories"),
        _globs(doc.get("tags", ["**"]), f"{where}.tags"),
        _globs(doc.get("exclude_tags", []), f"{where}.exclude_tags"),
        untagged,
    )


@dataclass(frozen=True)
class RetentionPolicy:
    rules: tuple[Rule, ...] = ()
    schedule: str | None = None  # cron; None: runs only when asked
    gc_grace: float = 3600.0  # the grace period of the collection after a real run

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_json() for r in self.rules],
            "schedule": self.schedule,
            "gc_grace": self.gc_grace,
        }


def policy_from_json(doc: object) -> RetentionPolicy:
    """A policy from its JSON form; InvalidArgument naming the wrong field."""
    if not isinstance(doc, dict):
        raise InvalidArgument("a retention policy is a JSON object")
    unknown = sorted(set(doc) - {"rules", "schedule", "gc_grace"})
    if unknown:
        raise InvalidArgument(f"retention policy: unknown field {unknown[0]!r}")
    rules = doc.get("rules", [])
    if not isinstance(rules, list):
        raise InvalidArgument("rules is not a list")
    schedule = doc.get("schedule")
    if schedule is not None and not isinstance(schedule, str):
        raise InvalidArgument("schedule is not a cron expression (a string) or null")
    grace = doc.get("gc_grace", 3600.0)
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
        raise InvalidArgument(f"gc_grace {grace!r} is not a number of seconds >= 0")
    return RetentionPolicy(
        tuple(_rule_from_json(r, f"rules[{i}]") for i, r in enumerate(rules)),
        schedule or None,
        float(grace),
    )


@dataclass(frozen=True)
class Artifact:
    """A repository's top-level manifest as retention sees it."""

    repository: str  # full name, project/...
    digest: str
    tags: tuple[str, ...]
    pushed: float  # epoch seconds
    pulled: float | None  # None: never pulled (since pull times were recorded)
    size: int = 0


@dataclass
class Verdict:
    artifact: Artifact
    retained_by: list[int] = field(default_factory=list)  # indexes of the rules

    @property
    def retained(self) -> bool:
        return bool(self.retained_by)


def _kept(rule: Rule, selected: list[Artifact], now: float) -> Iterable[Artifact]:
    if rule.keep == "always":
        return selected
    if rule.keep in ("latest_pushed", "latest_pulled"):
        pushed = rule.keep == "latest_pushed"

        def when(a: Artifact) -> tuple[float, str]:
            t = a.pushed if pushed else (a.pulled if a.pulled is not None else float("-inf"))
            return (t, a.digest)  # the digest orders ties, so every run agrees

        ranked = sorted(selected, key=when, reverse=True)
        if not pushed:  # never pulled is never "recently pulled"
            ranked = [a for a in ranked if a.pulled is not None]
        return ranked[: rule.count]
    cutoff = now - rule.days * _DAY
    if rule.keep == "pushed_within":
        return [a for a in selected if a.pushed >= cutoff]
    return [a for a in selected if a.pulled is not None and a.pulled >= cutoff]


def evaluate(
    policy: RetentionPolicy, project: str, artifacts: Sequence[Artifact], now: float
) -> list[Verdict]:
    """Each artifact of ``project`` with the rules that retain it (none: it goes), in
    the order given. Without rules everything is retained (by no rule: -1)."""
    verdicts = {(a.repository, a.digest): Verdict(a) for a in artifacts}
    if not policy.rules:
        for v in verdicts.values():
            v.retained_by.append(-1)
        return list(verdicts.values())
    by_repo: dict[str, list[Artifact]] = {}
    for a in artifacts:
        by_repo.setdefault(a.repository, []).append(a)
    prefix = f"{project}/"
    for repo, items in by_repo.items():
        name = repo[len(prefix) :] if repo.startswith(prefix) else repo
        for i, rule in enumerate(policy.rules):
            selected = [a for a in items if rule.selects(a, name)]
            for a in _kept(rule, selected, now):
                verdicts[(a.repository, a.digest)].retained_by.append(i)
    return list(verdicts.values())
