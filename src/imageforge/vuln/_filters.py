"""Which findings a user asked for: ``--severity CRITICAL,HIGH`` (trivy's syntax),
``--min-cvss 7.0`` (the guide's threshold) and ``--ignore-unfixed``.

The threshold both filters and gates, as trivy's ``--severity`` does: a finding is kept
(and fails the gate) when it reaches either condition given. A finding passes
``min_cvss`` when its highest CVSS base score reaches it; a finding with no vector is
judged by its severity label's lower bound (CRITICAL 9.0, HIGH 7.0, MEDIUM 4.0, LOW 0.1)
and an UNKNOWN one never passes. ``ignore_unfixed`` drops findings without
a fixed version (statuses ``affected``, ``will_not_fix``, ``fix_deferred``,
``end_of_life``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from imageforge.errors import InvalidArgument
from imageforge.vuln._match import Finding
from imageforge.vuln._severity import SEVERITIES

__all__ = ["filter_findings", "parse_severities", "reaches"]

_LOWER_BOUND = {"CRITICAL": 9.0, "HIGH": 7.0, "MEDIUM": 4.0, "LOW": 0.1}


def parse_severities(text: str) -> frozenset[str]:
    """``CRITICAL,HIGH`` -> {CRITICAL, HIGH}; names are case-insensitive."""
    names = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = names - set(SEVERITIES)
    if unknown or not names:
        raise InvalidArgument(
            f"unknown severity {', '.join(sorted(unknown)) or repr(text)}",
            hint=f"use a comma-separated list of {','.join(SEVERITIES)}",
        )
    return frozenset(names)


def _score(finding: Finding) -> float | None:
    best = finding.max_cvss
    return best if best is not None else _LOWER_BOUND.get(finding.severity)


def reaches(
    finding: Finding, *, severities: Collection[str] | None = None, min_cvss: float | None = None
) -> bool:
    """Whether ``finding`` reaches the threshold (either condition, when both are
    given: a gate set as ``--severity CRITICAL --min-cvss 7`` fails on either)."""
    if severities is None and min_cvss is None:
        return False
    if severities is not None and finding.severity in severities:
        return True
    if min_cvss is not None:
        score = _score(finding)
        return score is not None and score >= min_cvss
    return False


def filter_findings(
    findings: Iterable[Finding],
    *,
    severities: Collection[str] | None = None,
    min_cvss: float | None = None,
    ignore_unfixed: bool = False,
) -> list[Finding]:
    """The findings that reach the threshold (:func:`reaches`: either condition when
    both are given, so what is shown is what fails a gate), and have a fix when
    ``ignore_unfixed``. None: no condition of that kind."""
    out = []
    for f in findings:
        if ignore_unfixed and not f.fixed_version:
            continue
        if (severities is not None or min_cvss is not None) and not reaches(
            f, severities=severities, min_cvss=min_cvss
        ):
            continue
        out.append(f)
    return out
