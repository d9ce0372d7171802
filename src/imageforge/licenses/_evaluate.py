"""Each package's licence expression evaluated against the categories and the policy.

Each of a package's licences (the SBOM gives one or more; all are in force, as if
joined with AND) is parsed as an SPDX expression with license-expression. Each licence
in it gets its category (or the policy's verdict: ``allow`` makes it acceptable whatever
its category, ``deny`` a failure); an ``OR`` takes the alternative a user would choose
(the least restrictive), an ``AND`` the most restrictive of its parts. A text that is not
an expression (a licence's name, a sentence) is one ``unknown`` licence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from license_expression import (  # type: ignore[import-untyped]
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
    get_spdx_licensing,
)

from imageforge.licenses._categories import CATEGORY_SEVERITY, category_of, family
from imageforge.licenses._result import LicenseFinding, LicensePart, LicenseResult
from imageforge.policy import LICENSE_CATEGORIES, LicensePolicy, ScanIgnore
from imageforge.sbom import Package, Sbom

__all__ = ["evaluate_licenses", "evaluate_package"]

# Worst first: an AND takes the highest rank, an OR the lowest. A denied licence is
# worse than any category, an allowed one better.
_RANK: Final = {
    "denied": 9,
    "forbidden": 7,
    "restricted": 6,
    "unknown": 5,
    "reciprocal": 4,
    "notice": 3,
    "permissive": 2,
    "unencumbered": 1,
    "allowed": 0,
}


@cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


@dataclass(frozen=True)
class _Rules:
    allow: frozenset[str]
    deny: frozenset[str]
    overrides: dict[str, str]
    fail_on: frozenset[str]

    @classmethod
    def of(cls, policy: LicensePolicy) -> _Rules:
        overrides = {lic.lower(): cat for cat, ids in policy.categories for lic in ids}
        return cls(
            frozenset(a.lower() for a in policy.allow),
            frozenset(d.lower() for d in policy.deny),
            overrides,
            frozenset(policy.fail_on),
        )

    def verdict(self, license_id: str) -> tuple[str, str]:
        """(category, verdict): verdict is ``allowed``, ``denied`` or the category."""
        category = category_of(license_id, self.overrides)
        keys = {license_id.lower(), family(license_id).lower()}
        if keys & self.deny:
            return category, "denied"
        if keys & self.allow:
            return category, "allowed"
        return category, category


def _parse(text: str) -> Any:
    """The parsed expression of ``text``, or None when it is not one."""
    try:
        return _licensing().parse(text, validate=False)
    except (ExpressionError, AttributeError, TypeError, ValueError):
        return None


def _walk(node: Any, rules: _Rules, out: list[LicensePart]) -> str:
    """The verdict of ``node`` (a licence, AND or OR), its licences added to ``out``."""
    licensing = _licensing()
    if isinstance(node, LicenseWithExceptionSymbol):
        name = str(node.license_symbol.key)
        category, verdict = rules.verdict(name)
        out.append(LicensePart(name, category, str(node.exception_symbol.key)))
        return verdict
    if isinstance(node, LicenseSymbol):
        name = str(node.key)
        category, verdict = rules.verdict(name)
        out.append(LicensePart(name, category))
        return verdict
    verdicts = [_walk(arg, rules, out) for arg in node.args]
    if isinstance(node, licensing.OR):
        return min(verdicts, key=_RANK.__getitem__)
    return max(verdicts, key=_RANK.__getitem__)


def evaluate_package(package: Package, rules: _Rules) -> LicenseFinding | None:
    """The finding of one package (None when the SBOM gives it no licence). Each of its
    licence texts is one expression (a text that is not one is one unknown licence);
    all are in force, so the package's verdict is the worst of them."""
    texts = [t.strip() for t in dict.fromkeys(package.licenses) if t.strip()]
    if not texts:
        return None
    parts: list[LicensePart] = []
    verdicts: list[str] = []
    shown: list[str] = []
    for text in texts:
        expr = _parse(text)
        if expr is None:
            category, verdict = rules.verdict(text)
            parts.append(LicensePart(text, category))
            shown.append(text)
        else:
            verdict = _walk(expr, rules, parts)
            shown.append(str(expr))
        verdicts.append(verdict)
    verdict = max(verdicts, key=_RANK.__getitem__)
    if verdict in ("allowed", "denied"):
        known = [p.category for p in parts if p.category != "unknown"]
        category = max(known, key=_RANK.__getitem__) if known else "unknown"
    else:
        category = verdict
    if verdict == "denied":
        fails, reason = True, "denied by [scan.license] deny"
    elif verdict == "allowed":
        fails, reason = False, "allowed by [scan.license] allow"
    elif category in rules.fail_on:
        fails, reason = True, f"category {category} fails the scan ([scan.license] fail-on)"
    else:
        fails, reason = False, ""
    evidence = package.evidence[0] if package.evidence else None
    expression = " AND ".join(f"({t})" if " OR " in t and len(shown) > 1 else t for t in shown)
    return LicenseFinding(
        package=package.name,
        version=package.version,
        type=package.type,
        purl=package.purl,
        expression=expression,
        category=category,
        severity="CRITICAL" if verdict == "denied" else CATEGORY_SEVERITY[category],
        parts=tuple(dict.fromkeys(parts)),
        fails=fails,
        reason=reason,
        file=None if evidence is None else evidence.path,
        layer=None if evidence is None else evidence.layer,
    )


def _ignored(package: Package, names: Iterable[str]) -> bool:
    return any(n in (package.name, package.purl) for n in names)


def evaluate_licenses(
    sbom: Sbom | Sequence[Package],
    policy: LicensePolicy | None = None,
    *,
    ignores: Iterable[ScanIgnore] = (),
    today: dt.date | None = None,
) -> LicenseResult:
    """Every package's licence, classified and checked against ``policy``
    (``[scan.license]``): findings worst first, the licences nobody could classify,
    the packages without a licence. ``ignores`` (``[scan.ignore]``) entries whose id is
    a licence (``GPL-3.0-only``; optionally only for some ``packages``) suppress it."""
    policy = policy or LicensePolicy()
    rules = _Rules.of(policy)
    packages = sbom.packages if isinstance(sbom, Sbom) else list(sbom)
    result = LicenseResult(fail_on=tuple(c for c in LICENSE_CATEGORIES if c in rules.fail_on))
    for package in packages:
        if _ignored(package, policy.ignore_packages):
            continue
        finding = evaluate_package(package, rules)
        if finding is None:
            result.without_license.append(f"{package.name} {package.version} ({package.type})")
        else:
            result.findings.append(finding)
    result.suppress(ignores, today)
    result.sort()
    return result
