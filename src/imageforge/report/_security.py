"""The security scanners' severity scale (trivy's and the advisories' names) and how it
maps onto the report's levels.

Secrets, image misconfigurations, licences and vulnerabilities are rated ``CRITICAL``,
``HIGH``, ``MEDIUM``, ``LOW`` or ``UNKNOWN``, as trivy rates them, so a team's
``--severity CRITICAL,HIGH`` means the same in every scanner. A :class:`Finding` carries
the report's level (:func:`level_of`) and the scanner's own rating in its
``properties`` (:func:`security_properties`): SARIF consumers such as GitHub code
scanning read ``security-severity`` (a CVSS-like score) from there."""

from __future__ import annotations

from typing import Any, Final

from imageforge.errors import InvalidArgument
from imageforge.report._finding import Severity

__all__ = [
    "SECURITY_SEVERITIES",
    "level_of",
    "parse_security_severity",
    "security_properties",
    "security_rank",
]

SECURITY_SEVERITIES: Final = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""The scale, least severe first."""

_LEVEL: Final = {
    "CRITICAL": Severity.ERROR,
    "HIGH": Severity.ERROR,
    "MEDIUM": Severity.WARNING,
    "LOW": Severity.INFO,
    "UNKNOWN": Severity.INFO,
}

# GitHub code scanning reads SARIF's security-severity as a CVSS-like score:
# over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
_SCORE: Final = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}


def parse_security_severity(value: str, *, what: str = "severity") -> str:
    """``value`` as one of :data:`SECURITY_SEVERITIES` (any case); anything else is an
    :class:`InvalidArgument` naming ``what``."""
    name = value.strip().upper()
    if name not in SECURITY_SEVERITIES:
        raise InvalidArgument(
            f"{what}: unknown severity {value!r}",
            hint=f"use one of {', '.join(reversed(SECURITY_SEVERITIES))}",
        )
    return name


def security_rank(severity: str) -> int:
    """0 for ``UNKNOWN`` up to 4 for ``CRITICAL``."""
    return SECURITY_SEVERITIES.index(severity)


def level_of(severity: str) -> Severity:
    """The report level of a security severity: CRITICAL and HIGH are errors, MEDIUM a
    warning, LOW and UNKNOWN information."""
    return _LEVEL[severity]


def security_properties(severity: str, **extra: Any) -> dict[str, Any]:
    """A finding's or rule's SARIF properties: the scanner's rating, the
    ``security-severity`` score code-scanning services sort by, and ``extra``."""
    return {"security-severity": _SCORE[severity], "scanSeverity": severity, **extra}
