"""Severity: CVSS v3.x and v4.0 base scores computed from the vectors (the ``cvss``
package; v2 too, for old records), and the label a finding gets.

A finding's severity is the CVSS v3 base score's rating when the record has a v3 vector,
else the v4 score's, else the source's own label (GHSA's ``MODERATE`` is ``MEDIUM``,
Debian's urgencies ``low``/``medium``/``high``), else ``UNKNOWN``. Ratings follow the
CVSS v3.1 and v4.0 specifications: 0.1-3.9 LOW, 4.0-6.9 MEDIUM, 7.0-8.9 HIGH,
9.0-10.0 CRITICAL (0.0 is NONE, reported as LOW)."""

from __future__ import annotations

from dataclasses import dataclass

from cvss import CVSS2, CVSS3, CVSS4  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]

from imageforge.vuln._model import SeverityVector

__all__ = [
    "SEVERITIES",
    "CvssScore",
    "label_for_score",
    "normalize_label",
    "scores",
    "severity_of",
]

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")

_LABELS = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "important": "HIGH",
    "moderate": "MEDIUM",
    "medium": "MEDIUM",
    "low": "LOW",
    "negligible": "LOW",
    "unimportant": "LOW",
    "minor": "LOW",
}


@dataclass(frozen=True)
class CvssScore:
    version: str  # "2.0", "3.0", "3.1", "4.0"
    vector: str
    base_score: float


def scores(vectors: tuple[SeverityVector, ...]) -> tuple[list[CvssScore], list[str]]:
    """The base score of every CVSS vector, and a warning for each vector the ``cvss``
    package cannot read (the record keeps its other data)."""
    out: list[CvssScore] = []
    bad: list[str] = []
    for vec in vectors:
        text = vec.score.strip()
        try:
            if vec.type == "CVSS_V4" or text.startswith("CVSS:4."):
                v4 = CVSS4(text)
                out.append(CvssScore("4.0", text, float(v4.base_score)))
            elif vec.type == "CVSS_V3" or text.startswith("CVSS:3."):
                v3 = CVSS3(text)
                version = "3.0" if text.startswith("CVSS:3.0") else "3.1"
                out.append(CvssScore(version, text, float(v3.scores()[0])))
            elif vec.type == "CVSS_V2":
                v2 = CVSS2(text)
                out.append(CvssScore("2.0", text, float(v2.scores()[0])))
        except (CVSSError, ValueError, KeyError, IndexError) as exc:
            bad.append(f"{vec.type} vector {text!r} cannot be read: {exc}")
    return out, bad


def label_for_score(score: float) -> str:
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW"


def normalize_label(label: str | None) -> str | None:
    if not label:
        return None
    return _LABELS.get(label.strip().lower())


def severity_of(cvss: list[CvssScore], source_label: str | None) -> str:
    """The finding's severity (see the module docstring for the order of preference)."""
    for prefix in ("3.", "4."):
        for score in cvss:
            if score.version.startswith(prefix):
                return label_for_score(score.base_score)
    return normalize_label(source_label) or "UNKNOWN"
