"""Findings shared by every checker (lint, vuln, analyze, sign) and their writers.

A :class:`Report` is one tool run: the rules it knows (:class:`RuleInfo`) and the
:class:`Finding` values it produced, each with a :class:`Severity` and a place in a file.
Writers turn a report into text for people (the source line with a caret under the
column), JSON for scripts, GitHub Actions annotations, Checkstyle and JUnit XML, Code Climate
JSON, and SARIF 2.1.0 for
code-scanning services. The security scanners' scale (CRITICAL ... UNKNOWN) maps onto
the report's levels through :func:`level_of`. :func:`write_pages` writes rule
documentation (a page per rule and an index). Pure: no imports from the packages that
produce findings.
"""

from imageforge.report._checkstyle import write_checkstyle
from imageforge.report._ci import to_codeclimate, write_codeclimate, write_junit
from imageforge.report._finding import (
    Finding,
    Report,
    RuleInfo,
    Severity,
    parse_threshold,
    worst,
)
from imageforge.report._github import write_github
from imageforge.report._json import to_json, write_json
from imageforge.report._pages import write_pages
from imageforge.report._sarif import SARIF_SCHEMA_URI, SARIF_VERSION, to_sarif, write_sarif
from imageforge.report._security import (
    SECURITY_SEVERITIES,
    level_of,
    parse_security_severity,
    security_properties,
    security_rank,
)
from imageforge.report._text import format_text, write_text

__all__ = [
    "Finding",
    "Report",
    "RuleInfo",
    "SARIF_SCHEMA_URI",
    "SARIF_VERSION",
    "SECURITY_SEVERITIES",
    "Severity",
    "format_text",
    "level_of",
    "parse_security_severity",
    "security_properties",
    "security_rank",
    "parse_threshold",
    "to_codeclimate",
    "to_json",
    "to_sarif",
    "worst",
    "write_checkstyle",
    "write_codeclimate",
    "write_github",
    "write_json",
    "write_pages",
    "write_junit",
    "write_sarif",
    "write_text",
]
