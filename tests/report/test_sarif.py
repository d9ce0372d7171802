from __future__ import annotations

import io
import json
from typing import Any

import jsonschema
import pytest

from imageforge.errors import Location
from imageforge.report import (
    SARIF_VERSION,
    Finding,
    Report,
    RuleInfo,
    Severity,
    to_sarif,
    write_sarif,
)


def _report() -> Report:
    rules = tuple(
        RuleInfo(f"IF10{i}", f"rule-{i}", sev, f"title {i}", help="why", help_uri="https://x/y")
        for i, sev in enumerate(Severity)
    )
    findings = tuple(
        Finding(
            f"IF10{i}",
            sev,
            f"message {i}",
            Location("dir with space/Dockerfile", i + 1, 3),
            end_line=i + 2,
            hint="do this",
            snippet="FROM x",
        )
        for i, sev in enumerate(Severity)
    ) + (Finding("IF100", Severity.ERROR, "whole file", Location("Dockerfile")),)
    return Report("imageforge-lint", "0.1.0", rules, findings, ("Dockerfile",))


def test_sarif_output_validates_against_the_official_schema(
    sarif_schema: dict[str, Any],
) -> None:
    out = io.StringIO()
    write_sarif(_report(), out)
    document = json.loads(out.getvalue())
    jsonschema.Draft4Validator(sarif_schema).validate(document)
    assert document["version"] == SARIF_VERSION == "2.1.0"


def test_an_empty_report_validates_too(sarif_schema: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(sarif_schema).validate(to_sarif(Report("t", "1")))


def test_the_schema_rejects_what_it_should(sarif_schema: dict[str, Any]) -> None:
    # The validator really checks: a wrong level is refused.
    document = to_sarif(_report())
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(sarif_schema).validate(document)


def test_levels_follow_the_issue_mapping() -> None:
    results = to_sarif(_report())["runs"][0]["results"]
    levels = {r["properties"]["severity"]: r["level"] for r in results}
    assert levels == {"error": "error", "warning": "warning", "info": "note", "style": "note"}


def test_results_point_at_file_line_and_column() -> None:
    first = to_sarif(_report())["runs"][0]["results"][0]
    physical = first["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "dir%20with%20space/Dockerfile"
    assert physical["region"] == {
        "startLine": 1,
        "startColumn": 3,
        "endLine": 2,
        "snippet": {"text": "FROM x"},
    }
    assert first["ruleId"] == "IF100" and first["ruleIndex"] == 0
