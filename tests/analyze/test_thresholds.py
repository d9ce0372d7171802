"""Sizes, .dive-ci files, the [analyze] policy section and which setting wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.analyze import (
    Measure,
    RuleStatus,
    Thresholds,
    analyze,
    evaluate,
    format_size,
    load_dive_ci,
    parse_size,
    resolve_rules,
    thresholds_from_policy,
)
from imageforge.errors import InvalidArgument, NotFound
from imageforge.policy import load_policy

from .conftest import known_waste_image


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20MB", 20_000_000),
        ("20MiB", 20 * 1024 * 1024),
        ("1.5GB", 1_500_000_000),
        ("1.5 gib", int(1.5 * 1024**3)),
        ("500k", 500_000),
        ("42", 42),
        ("1,000 B", 1000),
        (7, 7),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "20XB", "-5", "1.2.3MB"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(InvalidArgument, match="is not a size"):
        parse_size(text)


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 999, 1000, 10_000_000, 1_534_000_000)] == [
        "0 B",
        "999 B",
        "1 kB",
        "10 MB",
        "1.53 GB",
    ]


def test_dive_ci_file(tmp_path: Path) -> None:
    f = tmp_path / ".dive-ci"
    f.write_text(
        "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n"
        "  highestUserWastedPercent: disabled\n"
    )
    t = load_dive_ci(f)
    assert t.get("lowestEfficiency") == "0.95"
    assert t.get("highestWastedBytes") == "20MB"
    rules = resolve_rules(t)
    assert [(r.rule, r.limit) for r in rules] == [
        ("lowestEfficiency", 0.95),
        ("highestWastedBytes", 20_000_000.0),
        ("highestUserWastedPercent", None),
    ]


def test_dive_ci_errors_name_the_file(tmp_path: Path) -> None:
    f = tmp_path / ".dive-ci"
    f.write_text("rules:\n  lowestEfficiency: [0.9\n")
    with pytest.raises(InvalidArgument) as info:
        load_dive_ci(f)
    assert str(f) in str(info.value) and info.value.location is not None
    f.write_text("rules:\n  lowestEfficiancy: 0.9\n")
    with pytest.raises(InvalidArgument, match="unknown rule 'lowestEfficiancy'"):
        load_dive_ci(f)
    f.write_text("rules:\n  lowestEfficiency: 1.5\n")
    with pytest.raises(InvalidArgument, match="outside the allowed range"):
        resolve_rules(load_dive_ci(f))
    with pytest.raises(NotFound):
        load_dive_ci(tmp_path / "missing")


def test_precedence_cli_then_policy_then_dive_ci_then_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "imageforge.toml"
    toml.write_text('[analyze]\nhighest-wasted-bytes = "1MiB"\nlowest-efficiency = 0.5\n')
    policy = load_policy(toml)
    dive_ci = tmp_path / ".dive-ci"
    dive_ci.write_text("rules:\n  lowestEfficiency: 0.7\n  highestWastedBytes: 5MB\n")
    cli = Thresholds.of("command line", lowestEfficiency="0.2")
    rules = resolve_rules(
        cli, thresholds_from_policy(policy.analyze, policy.source), load_dive_ci(dive_ci)
    )
    assert [(r.rule, r.configured, r.source) for r in rules] == [
        ("lowestEfficiency", "0.2", "command line"),
        ("highestWastedBytes", "1MiB", str(toml)),
        ("highestUserWastedPercent", "0.1", "dive's default"),
    ]


def test_bad_policy_values_are_located(tmp_path: Path) -> None:
    toml = tmp_path / "imageforge.toml"
    toml.write_text("[analyze]\nlowest-efficiency = 2\n")
    with pytest.raises(InvalidArgument) as info:
        load_policy(toml)
    assert "analyze.lowest-efficiency" in str(info.value) and str(toml) in str(info.value)


def test_evaluate_on_both_measures() -> None:
    result = analyze(known_waste_image())
    rules = resolve_rules(
        Thresholds.of(
            "t",
            lowestEfficiency="0.001",
            highestWastedBytes="10000601",
            highestUserWastedPercent="disabled",
        )
    )
    dive = evaluate(result, rules, measure=Measure.DIVE)
    assert [r.status for r in dive] == [RuleStatus.PASS, RuleStatus.PASS, RuleStatus.DISABLED]
    own = evaluate(result, rules, measure=Measure.IMAGEFORGE)
    # imageforge's efficiency is 2200/10014500 < 0.001; its waste 10012300 > 10000601
    assert [r.status for r in own] == [RuleStatus.FAIL, RuleStatus.FAIL, RuleStatus.DISABLED]
    assert own[0].message.startswith("image efficiency is too low (efficiency=0.00 <")
    assert own[1].message.startswith("too many bytes wasted (wasted-bytes=10012300")
