"""``imageforge context`` run as a user runs it, and its stop-gap COPY/ADD reader."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from imageforge.cli._context import _copy_sources
from imageforge.errors import InvalidArgument
from tests.conftest import run_cli

FILES: dict[str, bytes] = {
    "Dockerfile": b"FROM busybox\nCOPY --chown=1:1 app/ /app/\nCOPY dist/app.whl /tmp/\n",
    "app/main.py": b"m" * 120,
    "app/__pycache__/main.pyc": b"c" * 60,
    "dist/app.whl": b"w" * 900,
    "node_modules/x/index.js": b"x" * 5000,
    ".git/objects/aa": b"o" * 3000,
    "server.log": b"l" * 40,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _json(args: list[str]) -> dict[str, object]:
    proc = run_cli(["context", *args, "--format", "json", "--progress", "quiet"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_json_report(project: Path) -> None:
    data = _json([str(project)])
    total = sum(len(b) for b in FILES.values())
    assert data["before"] == {"files": len(FILES), "bytes": total}
    assert data["after"] == data["before"]
    suggestion = data["suggestion"]
    assert isinstance(suggestion, dict)
    lines = suggestion["lines"]
    assert sorted(lines) == ["**/*.log", "**/.git", "**/__pycache__", "**/node_modules"]
    # The saving counts the new .dockerignore, which is sent too.
    new_file = len("\n".join(["# added by imageforge context", *lines]) + "\n")
    assert suggestion["saving"] == {"files": 4 - 1, "bytes": 60 + 3000 + 40 + 5000 - new_file}
    unwanted = {u["path"]: u for u in data["unwanted"]}  # type: ignore[attr-defined]
    # dist/ is build output, but the Dockerfile copies from it: kept, and said why.
    assert unwanted["dist"]["pattern"] is None
    assert unwanted["dist"]["kept_because"] == "copied by COPY/ADD dist/app.whl"
    assert data["copy_sources"] == ["app/", "dist/app.whl"]
    affected = {a["source"]: a for a in data["affected_sources"]}  # type: ignore[attr-defined]
    assert affected["app/"]["drops"] == ["app/__pycache__"]


def test_table_report(project: Path) -> None:
    proc = run_cli(["context", str(project), "--progress", "quiet"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in (
        "before .dockerignore",
        "with the suggestion",
        "biggest paths sent",
        "probably unwanted",
        "**/node_modules",
        "kept: copied by COPY/ADD dist/app.whl",
        "COPY/ADD app/ would no longer include: app/__pycache__",
    ):
        assert text in out, text
    assert proc.stderr == ""


def test_write_dockerignore_gives_the_promised_saving(project: Path) -> None:
    (project / ".dockerignore").write_text("# keep me\n*.tmp\n")
    before = _json([str(project)])
    written = _json([str(project), "--write-dockerignore"])
    assert written["written"] == str(project / ".dockerignore")
    text = (project / ".dockerignore").read_text()
    assert text.startswith("# keep me\n*.tmp\n\n# added by imageforge context\n")
    after = _json([str(project)])
    suggestion = before["suggestion"]
    assert isinstance(suggestion, dict)
    assert after["after"] == suggestion["after"]
    assert after["suggestion"]["lines"] == []  # type: ignore[index]
    # Nothing the Dockerfile copies went missing.
    proc = run_cli(["context", str(project), "--format", "json", "--progress", "quiet"])
    assert json.loads(proc.stdout)["ignored_sources"] == []


def test_ignored_dockerfile_is_still_parsed(project: Path) -> None:
    (project / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    data = _json([str(project)])
    assert data["copy_sources"] == ["app/", "dist/app.whl"]
    assert "dist" not in str(data["suggestion"])


def test_dockerfile_specific_ignore_file(project: Path) -> None:
    (project / "build").mkdir()
    dockerfile = project / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM busybox\nCOPY . /src\n")
    (project / ".dockerignore").write_text("app\n")
    (project / "build" / "app.Dockerfile.dockerignore").write_text("node_modules\n")
    data = _json([str(project), "-f", str(dockerfile)])
    assert data["ignore_file"] == str(project / "build" / "app.Dockerfile.dockerignore")
    assert data["after"]["bytes"] == data["before"]["bytes"] - 5000  # type: ignore[index]


def test_bad_pattern_names_file_and_line(project: Path) -> None:
    (project / ".dockerignore").write_text("ok\n# comment\nsrc/[a-\n")
    proc = run_cli(["context", str(project), "--progress", "quiet"])
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {project / '.dockerignore'}:3: bad pattern")
    assert "hint: " in proc.stderr
    assert proc.stdout == ""


def test_bare_exclamation_mark(project: Path) -> None:
    (project / ".dockerignore").write_text("*\n!\n")
    proc = run_cli(["context", str(project)])
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f'error: {project / ".dockerignore"}:2: illegal exclusion pattern: "!"'
    )


def test_missing_context_or_dockerfile_is_not_found(project: Path) -> None:
    proc = run_cli(["context", str(project / "nope")])
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: build context")
    proc = run_cli(["context", str(project), "-f", str(project / "Nope.Dockerfile")])
    assert proc.returncode == 3


def test_context_defaults_to_the_current_directory(project: Path) -> None:
    proc = run_cli(["--help"])
    assert "context" in proc.stdout
    cwd = os.getcwd()
    try:
        os.chdir(project)
        data = _json([])
    finally:
        os.chdir(cwd)
    assert data["context"] == str(project.resolve())


def test_progress_lines_on_stderr_for_a_big_tree(tmp_path: Path) -> None:
    for d in range(25):
        sub = tmp_path / f"d{d}"
        sub.mkdir()
        for f in range(1000):
            (sub / f"f{f}").touch()
    proc = run_cli(["context", str(tmp_path), "--format", "json", "--progress", "plain"])
    assert proc.returncode == 0, proc.stderr
    assert "scanning context" in proc.stderr
    assert json.loads(proc.stdout)["before"]["files"] == 25_000


@pytest.mark.parametrize(
    ("text", "sources"),
    [
        ("FROM x\nCOPY a b /dst/\n", ["a", "b"]),
        ("FROM x\ncopy a /dst\nAdd b.tar /\n", ["a", "b.tar"]),
        ("FROM x\nCOPY --from=build /out /out\n", []),
        ("FROM x\nCOPY --chown=1:1 --chmod=755 --link src/ /app/\n", ["src/"]),
        ('FROM x\nCOPY ["my file", "b", "/dst/"]\n', ["my file", "b"]),
        ('FROM x\nADD --chown=0:0 ["a b", "/d"]\n', ["a b"]),
        ("FROM x\nCOPY a \\\n  b \\\n  /dst/\n", ["a", "b"]),
        ("FROM x\nCOPY a \\\n# a comment\n  /dst/\n", ["a"]),
        ("# escape=`\nFROM x\nCOPY a `\n  c:\\dst\n", ["a"]),
        ("FROM x\nRUN echo COPY a b\nCOPY <<EOF /etc/x\nhello\nEOF\n", []),
        ("FROM x\nADD https://example.org/a.tgz /\n", ["https://example.org/a.tgz"]),
    ],
)
def test_copy_sources(text: str, sources: list[str]) -> None:
    assert _copy_sources(text) == sources


def test_copy_sources_of_a_malformed_dockerfile_name_the_line() -> None:
    with pytest.raises(InvalidArgument, match=r"Dockerfile:2"):
        _copy_sources("FROM x\nCOPY onlyone\n")
    with pytest.raises(InvalidArgument, match=r"Dockerfile:2:1: missing a value on flag"):
        _copy_sources("FROM x\nCOPY --from build /x /y\n")
