"""A team's own rules: an installed distribution's ``imageforge.rules`` entry point and
``[[lint.rules]]`` in imageforge.toml both fire and are listed by ``--list-rules``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.lint import all_rules, lint_source, plugin_rules
from imageforge.policy import LintPolicy, RuleSpec
from tests.conftest import run_cli

PLUGIN = """\
from imageforge.dockerfile import Run
from imageforge.lint import Rule, hit
from imageforge.report import Severity


def _no_wget(lint):
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Run) and "wget" in " ".join(instr.args):
                yield hit(instr, "wget found")


RULES = [
    Rule(
        id="ACME100",
        slug="no-wget",
        section="acme",
        severity=Severity.ERROR,
        title="wget is not allowed",
        message="Use curl: the proxy only lets curl through.",
        hint="Replace wget with curl -fsSL.",
        why="ACME's build proxy.",
        bad="FROM alpine:3.20\\nRUN wget https://x\\n",
        good="FROM alpine:3.20\\nRUN curl -fsSL https://x\\n",
        check=_no_wget,
    )
]
"""

DOCKERFILE = "FROM alpine:3.20\nRUN wget -q https://example.org/x\nUSER 1000\n"


def _install_plugin(root: Path, value: str = "acme_rules:RULES") -> Path:
    """A distribution ``acme-rules`` with its dist-info, importable from ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "acme_rules.py").write_text(PLUGIN)
    info = root / "acme_rules-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[imageforge.rules]\nacme = {value}\n")
    return root


@pytest.fixture
def fresh_rules() -> Iterator[None]:
    plugin_rules.cache_clear()
    all_rules.cache_clear()
    yield
    plugin_rules.cache_clear()
    all_rules.cache_clear()


def test_an_entry_point_rule_fires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_rules: None
) -> None:
    monkeypatch.syspath_prepend(str(_install_plugin(tmp_path / "site")))
    assert [r.id for r in plugin_rules()] == ["ACME100"]
    found = [f for f in lint_source(DOCKERFILE) if f.rule_id == "ACME100"]
    assert len(found) == 1
    assert found[0].location.line == 2 and found[0].severity.value == "error"
    assert "ACME100" not in {f.rule_id for f in lint_source(DOCKERFILE.replace("wget -q", "curl"))}
    # the policy disables it like any other rule
    off = lint_source(DOCKERFILE, policy=LintPolicy(disable=("ACME",)))
    assert "ACME100" not in {f.rule_id for f in off}


def test_a_broken_entry_point_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_rules: None
) -> None:
    monkeypatch.syspath_prepend(str(_install_plugin(tmp_path / "site", "acme_rules:MISSING")))
    with pytest.raises(InvalidArgument, match="acme_rules:MISSING"):
        plugin_rules()


def test_cli_lists_and_runs_entry_point_rules(tmp_path: Path) -> None:
    site = _install_plugin(tmp_path / "site")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    df = tmp_path / "Dockerfile"
    df.write_text(DOCKERFILE)
    listed = run_cli(["lint", "--list-rules", "--format", "json"], env=env, cwd=tmp_path)
    assert "ACME100" in {r["id"] for r in json.loads(listed.stdout)}
    proc = run_cli(["lint", "--format", "json", str(df)], env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "ACME100" in {f["rule"] for f in json.loads(proc.stdout)["findings"]}


def test_a_declared_rule_fires_on_its_instruction_only() -> None:
    spec = RuleSpec(
        id="TEAM001",
        instruction="RUN",
        pattern=r"curl\s.*\|\s*(ba)?sh",
        message="Do not pipe downloads into a shell.",
        severity="error",
    )
    policy = LintPolicy(rules=(spec,))
    text = "FROM alpine:3.20\nRUN curl -fsSL https://x | sh\nLABEL x='curl a | sh'\n"
    found = [f for f in lint_source(text, policy=policy) if f.rule_id == "TEAM001"]
    assert [(f.location.line, f.severity.value) for f in found] == [(2, "error")]
    from_rule = RuleSpec(id="TEAM002", instruction="FROM", pattern=":latest$", message="no")
    assert "TEAM002" in {
        f.rule_id
        for f in lint_source("FROM alpine:latest\n", policy=LintPolicy(rules=(from_rule,)))
    }


def test_declared_rules_from_imageforge_toml(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(
        "[lint]\ndisable = ['IF102']\n"
        "[[lint.rules]]\nid = 'TEAM001'\ninstruction = 'run'\npattern = 'wget '\n"
        "message = 'Use curl.'\nseverity = 'info'\nhint = 'curl -fsSL'\n"
    )
    df = tmp_path / "Dockerfile"
    df.write_text(DOCKERFILE)
    proc = run_cli(["lint", "--format", "json", "--failure-threshold", "none", str(df)])
    found = {f["rule"]: f for f in json.loads(proc.stdout)["findings"]}
    assert found["TEAM001"]["line"] == 2 and found["TEAM001"]["severity"] == "info"
    listed = run_cli(["lint", "--list-rules", str(df)])
    assert "TEAM001" in listed.stdout and "Use curl." in listed.stdout


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("id = 'T1'\ninstruction = 'RUN'\npattern = '(unclosed'\nmessage = 'm'", "T1"),
        ("id = 'T1'\ninstruction = 'BUILD'\npattern = 'x'\nmessage = 'm'", "instruction"),
        ("id = 'T1'\ninstruction = 'RUN'\nmessage = 'm'", "pattern"),
        ("id = 'IF101'\ninstruction = 'RUN'\npattern = 'x'\nmessage = 'm'", "IF101"),
    ],
)
def test_bad_declared_rules_are_usage_errors(tmp_path: Path, rules: str, message: str) -> None:
    cfg = tmp_path / "imageforge.toml"
    cfg.write_text(f"[[lint.rules]]\n{rules}\n")
    df = tmp_path / "Dockerfile"
    df.write_text(DOCKERFILE)
    proc = run_cli(["lint", str(df)])
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
