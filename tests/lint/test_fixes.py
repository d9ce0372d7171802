"""``Rule.fix``: each rewrite on a small Dockerfile. The fixed file parses, no longer
triggers the rule, is a fixed point (fix twice = fix once), and every instruction the
fix does not own parses exactly as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imageforge.dockerfile import Instruction, parse
from imageforge.lint import fix_source, lint_path, lint_source, rule
from imageforge.policy import LintPolicy
from tests.conftest import run_cli
from tests.dockerfile.corpus import corpus_dir
from tests.lint.conftest import ids


def _instructions(text: str) -> list[Instruction]:
    return [i for s in parse(text).stages for i in s.instructions]


def _check_fix(rule_id: str, before: str, after: str, owned: int | None = 1) -> None:
    """``before`` fixes to exactly ``after``, which is clean of ``rule_id``, a fixed
    point, and differs from ``before`` in ``owned`` instructions at most (None: the
    caller compares)."""
    assert rule_id in ids(before)
    fixed = fix_source(before, policy=LintPolicy(enable=(rule_id,)))
    assert fixed.text == after
    assert {rid for rid, _line in fixed.applied} == {rule_id}
    assert rule_id not in ids(after)
    again = fix_source(after, policy=LintPolicy(enable=(rule_id,)))
    assert again.text == after and again.applied == ()
    if owned is None:
        return
    old, new = _instructions(before), _instructions(after)
    assert len(old) == len(new)
    assert sum(1 for a, b in zip(old, new, strict=True) if a != b) <= owned


def test_fix_adds_no_install_recommends_to_each_apt_install() -> None:
    _check_fix(
        "IF206",
        "FROM debian:12-slim\nRUN apt-get update \\\n && apt-get -q install -y curl=1 \\\n"
        " && apt-get install -y --no-install-recommends git=2 \\\n"
        " && apt install -y make=4 && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12-slim\nRUN apt-get update \\\n"
        " && apt-get -q install --no-install-recommends -y curl=1 \\\n"
        " && apt-get install -y --no-install-recommends git=2 \\\n"
        " && apt install --no-install-recommends -y make=4 && rm -rf /var/lib/apt/lists/*\n",
    )


def test_fix_adds_the_apt_lists_cleanup() -> None:
    _check_fix(
        "IF205",
        "FROM debian:12-slim\nRUN apt-get update \\\n"
        "  && apt-get install -y --no-install-recommends curl=1\nUSER 1000\n",
        "FROM debian:12-slim\nRUN apt-get update \\\n"
        "  && apt-get install -y --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*\n"
        "USER 1000\n",
    )
    _check_fix(
        "IF205",
        "FROM debian:12-slim\nRUN set -eux; apt-get update; apt-get install -y curl=1;\n",
        "FROM debian:12-slim\n"
        "RUN set -eux; apt-get update; apt-get install -y curl=1; rm -rf /var/lib/apt/lists/*\n",
    )


def test_fix_adds_no_cache_dir_to_pip() -> None:
    _check_fix(
        "IF207",
        "FROM python:3.12-slim\nCOPY requirements.txt .\n"
        "RUN pip install -r requirements.txt && python3 -m pip install --no-cache-dir x==1\n",
        "FROM python:3.12-slim\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt "
        "&& python3 -m pip install --no-cache-dir x==1\n",
    )


def test_fix_turns_npm_install_into_npm_ci_when_the_lockfile_is_copied() -> None:
    _check_fix(
        "IF301",
        "FROM node:22-slim\nCOPY package.json package-lock.json ./\n"
        "RUN npm install --omit=dev && npm install -g typescript@5.6.3\n",
        "FROM node:22-slim\nCOPY package.json package-lock.json ./\n"
        "RUN npm ci --omit=dev && npm install -g typescript@5.6.3\n",
    )
    # no lockfile known to be copied: npm ci would fail, so no fix
    text = "FROM node:22-slim\nCOPY package*.json ./\nRUN npm install\n"
    assert fix_source(text).text.count("npm install") == 1


def test_fix_writes_cmd_and_entrypoint_in_json_form() -> None:
    _check_fix(
        "IF707",
        'FROM python:3.12-slim\nCMD python -m http.server --bind "0.0.0.0"\n',
        'FROM python:3.12-slim\nCMD ["python", "-m", "http.server", "--bind", "0.0.0.0"]\n',
    )
    _check_fix(
        "IF707",
        "FROM alpine:3.20\nentrypoint /app/run --port 8080\n",
        'FROM alpine:3.20\nentrypoint ["/app/run", "--port", "8080"]\n',
    )


@pytest.mark.parametrize(
    "text",
    [
        "FROM alpine:3.20\nCMD echo $HOME\n",  # needs the shell to expand
        "FROM alpine:3.20\nCMD run | tee log\n",
        "FROM alpine:3.20\nENTRYPOINT /app/run\nCMD --help\n",  # CMD would become its args
    ],
)
def test_exec_form_fix_declines_when_the_shell_matters(text: str) -> None:
    assert fix_source(text).text == text


def test_fix_splits_a_broad_copy_into_manifests_first() -> None:
    _check_fix(
        "IF201",
        "FROM node:22-slim\nWORKDIR /app\nCOPY --chown=1000:1000 . .\nENV CI=1\nRUN npm ci\n"
        'CMD ["node", "server.js"]\n',
        "FROM node:22-slim\nWORKDIR /app\n"
        "COPY --chown=1000:1000 package.json package-lock.json* npm-shrinkwrap.json* ./\n"
        "ENV CI=1\nRUN npm ci\nCOPY --chown=1000:1000 . .\n"
        'CMD ["node", "server.js"]\n',
        owned=None,
    )
    old = _instructions("FROM node:22-slim\nWORKDIR /app\nCOPY --chown=1000:1000 . .\nRUN npm ci\n")
    new = _instructions(
        fix_source("FROM node:22-slim\nWORKDIR /app\nCOPY --chown=1000:1000 . .\nRUN npm ci\n").text
    )
    # the broad COPY moved below the install; one manifest COPY took its place
    assert len(new) == len(old) + 1
    assert [new[0], new[2], new[3]] == [old[0], old[2], old[1]]
    go = "FROM golang:1.23\nWORKDIR /src\nCOPY . .\nRUN go mod download\n"
    assert fix_source(go).text == (
        "FROM golang:1.23\nWORKDIR /src\nCOPY go.mod go.sum* ./\nRUN go mod download\nCOPY . .\n"
    )


def test_copy_split_declines_when_the_run_needs_the_sources() -> None:
    text = "FROM node:22-slim\nCOPY . .\nRUN npm ci && npm run build\n"
    assert fix_source(text).text == text
    # pip without a known context: the requirements file might say `-e .`
    text = "FROM python:3.12-slim\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    assert "COPY . ." in fix_source(text).text.splitlines()[1]


def test_copy_split_for_pip_reads_the_requirements_in_the_context(tmp_path: Path) -> None:
    df = "FROM python:3.12-slim\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    (tmp_path / "Dockerfile").write_text(df)
    (tmp_path / ".dockerignore").write_text(".git\n")
    (tmp_path / "requirements.txt").write_text("flask==3.0.0\n")
    proc = run_cli(["lint", "--fix", "--failure-threshold", "none", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "Dockerfile").read_text() == (
        "FROM python:3.12-slim\nCOPY requirements.txt ./\n"
        "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
    )
    (tmp_path / "Dockerfile").write_text(df)
    (tmp_path / "requirements.txt").write_text("-e .\n")
    run_cli(["lint", "--fix", "--failure-threshold", "none", str(tmp_path)])
    assert (tmp_path / "Dockerfile").read_text() == df


def test_ignored_findings_are_not_fixed() -> None:
    text = "FROM alpine:3.20\n# hadolint ignore=DL3025\nCMD run --now\n"
    assert fix_source(text).text == text


def test_only_some_rules_have_fixes() -> None:
    with_fix = {r for r in ("IF201", "IF205", "IF206", "IF207", "IF301", "IF707")}
    assert all(rule(r).fix is not None for r in with_fix)
    assert rule("IF101").fix is None


def test_cli_diff_shows_and_changes_nothing_fix_writes(tmp_path: Path) -> None:
    df = tmp_path / "Dockerfile"
    original = "FROM alpine:3.20\nCMD run --now\n"
    df.write_text(original)
    df.chmod(0o640)
    proc = run_cli(["lint", "--diff", str(df)])
    assert proc.returncode == 1
    assert '-CMD run --now\n+CMD ["run", "--now"]' in proc.stdout
    assert df.read_text() == original
    proc = run_cli(["lint", "--fix", "--format", "json", "--failure-threshold", "none", str(df)])
    assert proc.returncode == 0, proc.stderr
    assert df.read_text() == 'FROM alpine:3.20\nCMD ["run", "--now"]\n'
    assert df.stat().st_mode & 0o777 == 0o640
    assert "IF707" not in proc.stdout  # the report is of the fixed file
    assert run_cli(["lint", "--diff", str(df)]).returncode == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_fix_and_diff_exclude_each_other_and_bad_input_is_left_alone(
    tmp_path: Path,
) -> None:
    df = tmp_path / "Dockerfile"
    df.write_bytes(b"FROM alpine:3.20\nCMD run \xff\n")
    assert run_cli(["lint", "--fix", "--diff", str(df)]).returncode == 2
    proc = run_cli(["lint", "--fix", str(df)])
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr
    assert df.read_bytes() == b"FROM alpine:3.20\nCMD run \xff\n"


def test_lint_after_fix_has_none_of_the_fixed_findings(tmp_path: Path) -> None:
    text = (
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y gcc=12\n"
        "RUN pip install flask==3.0.0\nCMD python app.py\n"
    )
    fixed = fix_source(text).text
    left = {f.rule_id for f in lint_source(fixed)}
    assert not left & {"IF205", "IF206", "IF207", "IF707"}


@pytest.mark.slow
def test_fix_over_the_corpus_parses_and_is_a_fixed_point(tmp_path: Path) -> None:
    files = sorted(corpus_dir("dockerfiles").glob("*/*/Dockerfile"))
    copies = []
    for n, f in enumerate(files):
        dest = tmp_path / f"{n:03}" / "Dockerfile"
        dest.parent.mkdir()
        shutil.copyfile(f, dest)
        copies.append(dest)
    proc = run_cli(["lint", "--fix", "--failure-threshold", "none", *map(str, copies)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    changed = 0
    for original, copy in zip(files, copies, strict=True):
        text = copy.read_text(encoding="utf-8")
        before = original.read_text(encoding="utf-8", errors="replace")
        if text == before:
            continue
        changed += 1
        parse(text)  # raises if the fix broke the file
        assert fix_source(text, file=str(copy)).text == text, original
        _shown, findings = lint_path(copy)
        assert not [f for f in findings if f.rule_id == "IF001"], original
    assert changed > 20  # the corpus has plenty to fix


NODE_GUIDE = (
    "FROM node:22-slim@sha256:" + "0" * 64 + "\nWORKDIR /app\nCOPY . .\nRUN npm install\n"
    'USER 1000\nCMD ["node", "server.js"]\n'
)


@pytest.mark.parametrize("lockfile", [True, False])
def test_cli_fix_and_diff_on_the_guides_node_pattern_with_its_context(
    tmp_path: Path, lockfile: bool
) -> None:
    """The guide's own Node example (``COPY . .`` then ``npm install``) with the context
    known: the broad COPY is split, and ``npm ci`` replaces ``npm install`` exactly when
    the context has a lockfile the COPY sends."""
    (tmp_path / "Dockerfile").write_text(NODE_GUIDE)
    (tmp_path / "package.json").write_text("{}\n")
    (tmp_path / "server.js").write_text("\n")
    (tmp_path / ".dockerignore").write_text("node_modules\n")
    if lockfile:
        (tmp_path / "package-lock.json").write_text("{}\n")
    proc = run_cli(["lint", "--diff", str(tmp_path)])
    assert proc.returncode == 1, proc.stderr
    assert "+COPY package.json package-lock.json* npm-shrinkwrap.json* ./" in proc.stdout
    assert ("+RUN npm ci" in proc.stdout) is lockfile
    proc = run_cli(["lint", "--fix", "--failure-threshold", "none", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    fixed = (tmp_path / "Dockerfile").read_text()
    lines = fixed.splitlines()
    assert lines.index("COPY . .") > next(i for i, x in enumerate(lines) if x.startswith("RUN npm"))
    assert ("RUN npm ci" in fixed) is lockfile


def test_npm_ci_fix_respects_a_dockerignored_lockfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(NODE_GUIDE)
    (tmp_path / "package.json").write_text("{}\n")
    (tmp_path / "package-lock.json").write_text("{}\n")
    (tmp_path / ".dockerignore").write_text("package-lock.json\n")
    proc = run_cli(["lint", "--diff", str(tmp_path)])
    assert proc.returncode == 1, proc.stderr
    assert "npm ci" not in proc.stdout  # COPY . . does not send an ignored lockfile
