"""``imageforge lint`` run as a user runs it: the console script in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import run_cli
from tests.dockerfile.corpus import corpus_dir

SCHEMA = Path(__file__).resolve().parents[1] / "report" / "data" / "sarif-schema-2.1.0.json"
DIGEST = "@sha256:" + "0123456789abcdef" * 4
CLEAN = f"FROM alpine:3.20{DIGEST}\nUSER 10001\n"
ROOTY = "FROM alpine:3.20\nRUN apk add --no-cache curl\n"


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return data


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_text_output_shows_line_caret_and_advice(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", ROOTY)
    proc = run_cli(["lint", str(df)])
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    i = lines.index(
        f"{df}:1:1: warning IF501: The container runs as root. "
        "(no USER in the final stage, so it runs as root)"
    )
    assert lines[i + 1] == "  1 | FROM alpine:3.20"
    assert lines[i + 2] == "    | ^"
    assert lines[i + 3].startswith("  = help: Create a user")
    assert lines[-1] == "3 findings in 1 file (1 warning, 2 info)"


@pytest.mark.parametrize(
    ("threshold", "code"), [("error", 0), ("warning", 1), ("info", 1), ("none", 0)]
)
def test_exit_code_follows_the_threshold(tmp_path: Path, threshold: str, code: int) -> None:
    df = _write(tmp_path / "Dockerfile", ROOTY)
    assert run_cli(["lint", "--failure-threshold", threshold, str(df)]).returncode == code


def test_a_clean_file_exits_0(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", CLEAN)
    proc = run_cli(["lint", str(df), "--failure-threshold", "style"])
    assert proc.returncode == 0 and proc.stdout == "no findings in 1 file\n"


def test_json_output(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", ROOTY)
    proc = run_cli(["lint", "--format", "json", str(df)])
    data = json.loads(proc.stdout)
    assert data["summary"] == {"error": 0, "warning": 1, "info": 2, "style": 0}
    assert {f["rule"] for f in data["findings"]} == {"IF102", "IF309", "IF501"}


def test_sarif_output_validates(tmp_path: Path, sarif_schema: dict[str, Any]) -> None:
    df = _write(tmp_path / "Dockerfile", ROOTY + "ENV DB_PASSWORD=x\n")
    proc = run_cli(["lint", "--format", "sarif", str(df)])
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    jsonschema.Draft4Validator(sarif_schema).validate(document)
    levels = {r["ruleId"]: r["level"] for r in document["runs"][0]["results"]}
    assert levels == {"IF102": "note", "IF309": "note", "IF501": "warning", "IF504": "error"}


def test_config_file_and_pyproject(tmp_path: Path) -> None:
    df = _write(tmp_path / "svc" / "Dockerfile", ROOTY)
    _write(
        tmp_path / "pyproject.toml",
        '[tool.imageforge.lint]\ndisable = ["IF5"]\nfailure-threshold = "info"\n',
    )
    proc = run_cli(["lint", "--format", "json", str(df)])
    assert proc.returncode == 1
    assert {f["rule"] for f in json.loads(proc.stdout)["findings"]} == {"IF102", "IF309"}
    other = _write(tmp_path / "strict.toml", '[lint]\nseverity = { IF309 = "error" }\n')
    proc = run_cli(["lint", "--config", str(other), "--failure-threshold", "error", str(df)])
    assert proc.returncode == 1
    assert "error IF309" in proc.stdout


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", CLEAN)
    bad = _write(tmp_path / "imageforge.toml", "[lint]\ndisabel = []\n")
    proc = run_cli(["lint", str(df)])
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}: invalid policy setting lint")


def test_directory_path_is_the_context(tmp_path: Path) -> None:
    _write(tmp_path / "Dockerfile", CLEAN)
    _write(tmp_path / ".git" / "HEAD", "ref: refs/heads/main\n")
    _write(tmp_path / "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    proc = run_cli(["lint", "--format", "json", str(tmp_path)])
    rules = sorted(f["rule"] for f in json.loads(proc.stdout)["findings"])
    assert rules == ["IF601", "IF602", "IF603"]
    assert proc.returncode == 1
    # a file PATH alone has no context rules; --context adds them
    proc = run_cli(["lint", "--format", "json", str(tmp_path / "Dockerfile")])
    assert json.loads(proc.stdout)["findings"] == []
    proc = run_cli(
        ["lint", "--format", "json", "--context", str(tmp_path), str(tmp_path / "Dockerfile")]
    )
    assert len(json.loads(proc.stdout)["findings"]) == 3


def test_syntax_error_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", "FROM alpine:3.20\nFRM x\n")
    proc = run_cli(["lint", str(df)])
    assert proc.returncode == 1
    assert f"{df}:2:1: error IF001: The Dockerfile cannot be parsed." in proc.stdout


def test_missing_file(tmp_path: Path) -> None:
    proc = run_cli(["lint", str(tmp_path / "nope")])
    assert proc.returncode == 3 and "no such Dockerfile" in proc.stderr


def test_list_rules(tmp_path: Path) -> None:
    proc = run_cli(["lint", "--list-rules", "--format", "json", str(tmp_path)])
    rules = json.loads(proc.stdout)
    assert len(rules) >= 35 and rules[0]["id"] == "IF001"
    text = run_cli(["lint", "--list-rules"]).stdout
    assert "IF501" in text and "final-user-root" in text


@pytest.mark.slow
def test_every_corpus_dockerfile_lints_without_internal_error(
    sarif_schema: dict[str, Any],
) -> None:
    root = corpus_dir("dockerfiles")
    files = sorted(root.glob("*/*/Dockerfile"))
    assert len(files) == 209
    proc = run_cli(["lint", "--format", "sarif", "--failure-threshold", "none", *map(str, files)])
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.Draft4Validator(sarif_schema).validate(document)
    results = document["runs"][0]["results"]
    assert not [r for r in results if r["ruleId"] == "IF001"]
    # the folders as build contexts: the context rules run too (read-only corpus)
    dirs = sorted({str(f.parent) for f in files})
    proc = run_cli(["lint", "--format", "json", "--failure-threshold", "none", *dirs])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"] == [str(f) for f in files]


def test_hadolint_yaml_is_honoured_through_the_mapping(tmp_path: Path) -> None:
    df = _write(
        tmp_path / "Dockerfile",
        "FROM docker.io/library/alpine:3.20\nWORKDIR app\nCMD echo hi\n",
    )
    first = json.loads(run_cli(["lint", "--format", "json", str(df)], cwd=tmp_path).stdout)
    assert {"IF703", "IF707"} <= {f["rule"] for f in first["findings"]}
    _write(
        tmp_path / ".hadolint.yaml",
        "ignored: [DL3000]\noverride:\n  error: [DL3025]\n"
        "trustedRegistries: [quay.io]\nfailure-threshold: error\n"
        "label-schema:\n  maintainer: text\n",
    )
    proc = run_cli(["lint", "--format", "json", str(df)], cwd=tmp_path)
    found = {f["rule"]: f for f in json.loads(proc.stdout)["findings"]}
    assert "IF703" not in found
    assert found["IF707"]["severity"] == "error"
    assert "IF106" in found and "IF107" in found
    assert proc.returncode == 1


def test_bad_hadolint_yaml_names_file_and_line(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", CLEAN)
    bad = _write(tmp_path / "h.yaml", "ignored: [DL3000\noverride: {\n")
    proc = run_cli(["lint", "--config", str(bad), str(df)])
    assert proc.returncode == 2
    assert str(bad) in proc.stderr
    bad.write_text("override:\n  fatal: [DL3000]\n")
    proc = run_cli(["lint", "--config", str(bad), str(df)])
    assert proc.returncode == 2
    assert "unknown severity 'fatal'" in proc.stderr


def test_github_format_annotates_each_finding(tmp_path: Path) -> None:
    df = _write(tmp_path / "Dockerfile", "FROM alpine:3.20\nWORKDIR app\n")
    proc = run_cli(["lint", "--format", "github", str(df)])
    lines = proc.stdout.splitlines()
    assert (
        f"::warning file={df},line=2,col=1,title=IF703::"
        "WORKDIR should be an absolute path. (WORKDIR app is relative)" in lines
    )
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)


def test_checkstyle_format_is_xml_with_one_error_per_finding(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    df = _write(tmp_path / "Dockerfile", "FROM alpine:3.20\nWORKDIR app\n")
    proc = run_cli(["lint", "--format", "checkstyle", str(df)])
    root = ET.fromstring(proc.stdout.split("\n", 1)[1])
    (file,) = root.findall("file")
    assert file.get("name") == str(df)
    errors = {e.get("source"): e for e in file.findall("error")}
    assert errors["IF703"].get("line") == "2"
    assert errors["IF703"].get("severity") == "warning"
    assert len(errors) == len(
        json.loads(run_cli(["lint", "--format", "json", str(df)]).stdout)["findings"]
    )


def test_junit_and_codeclimate_formats(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    bad = _write(tmp_path / "a" / "Dockerfile", "FROM alpine:3.20\nWORKDIR app\n")
    clean = _write(tmp_path / "b" / "Dockerfile", CLEAN)
    proc = run_cli(["lint", "--format", "junit", str(bad), str(clean)])
    suite = ET.fromstring(proc.stdout.split("\n", 1)[1]).find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases[str(clean)].find("failure") is None
    assert "IF703" in {f.get("type") for f in cases[str(bad)].findall("failure")}
    issues = json.loads(run_cli(["lint", "--format", "codeclimate", str(bad)]).stdout)
    (workdir,) = [i for i in issues if i["check_name"] == "IF703"]
    assert workdir["location"] == {"path": str(bad), "lines": {"begin": 2}}
    assert workdir["severity"] == "major" and len(workdir["fingerprint"]) == 64
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_dash_reads_the_dockerfile_from_stdin(tmp_path: Path) -> None:
    proc = run_cli(["lint", "--format", "json", "-"], stdin_text="FROM alpine\n", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["files"] == ["-"]
    assert {f["rule"] for f in doc["findings"]} >= {"IF101"}
    assert all(f["file"] == "-" for f in doc["findings"])
    diff = run_cli(["lint", "--diff", "-"], stdin_text="FROM alpine:3.20\nCMD run --now\n")
    assert diff.returncode == 1 and '+CMD ["run", "--now"]' in diff.stdout
    refused = run_cli(["lint", "--fix", "-"], stdin_text="FROM alpine\n")
    assert refused.returncode == 2 and "--diff" in refused.stderr
