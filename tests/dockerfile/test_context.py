"""The context walker (and, below, the context report)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageforge.dockerfile import (
    ContextEntry,
    EntryType,
    load_dockerignore,
    parse_dockerignore,
    walk_context,
)
from imageforge.errors import InvalidArgument, NotFound
from imageforge.progress import RecordingProgress


def make_tree(root: Path, files: dict[str, bytes | None]) -> None:
    """Files by relative path; None makes an empty directory."""
    for rel, data in files.items():
        path = root / rel
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def independent_expectation(root: Path, ignore_text: str) -> tuple[set[str], int]:
    """What should be sent, by os.walk over everything plus the path-by-path rule
    (``is_ignored``) and the ancestors of what is kept; and the kept bytes."""
    ignore = parse_dockerignore(ignore_text)
    every: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            every.append(name if rel == "." else f"{rel}/{name}")
    kept = {p for p in every if not ignore.is_ignored(p)}
    with_parents = set(kept)
    for p in kept:
        parts = p.split("/")
        with_parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
    size = sum((root / p).stat().st_size for p in kept if (root / p).is_file())
    return with_parents, size


TREE: dict[str, bytes | None] = {
    "Dockerfile": b"FROM scratch\nCOPY . /\n",
    "README.md": b"# readme\n",
    "app.log": b"x" * 100,
    "src/main.py": b"print(1)\n" * 10,
    "src/pkg/util.py": b"u" * 300,
    "src/pkg/tmp.tmp": b"t" * 7,
    "docs/README.md": b"docs" * 5,
    "docs/guide.md": b"g" * 50,
    "node_modules/lodash/index.js": b"l" * 1000,
    "node_modules/lodash/package.json": b"{}",
    "dist": None,
    "web/node_modules/react/index.js": b"r" * 2000,
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make_tree(tmp_path, TREE)
    return tmp_path


def _walk(root: Path, ignore_text: str) -> list[ContextEntry]:
    return list(walk_context(root, ignore=parse_dockerignore(ignore_text)))


def test_nothing_ignored_lists_everything_in_walk_order(tree: Path) -> None:
    paths = [e.path for e in _walk(tree, "")]
    assert paths == [
        "Dockerfile",
        "README.md",
        "app.log",
        "dist",
        "docs",
        "docs/README.md",
        "docs/guide.md",
        "node_modules",
        "node_modules/lodash",
        "node_modules/lodash/index.js",
        "node_modules/lodash/package.json",
        "src",
        "src/main.py",
        "src/pkg",
        "src/pkg/tmp.tmp",
        "src/pkg/util.py",
        "web",
        "web/node_modules",
        "web/node_modules/react",
        "web/node_modules/react/index.js",
    ]


@pytest.mark.parametrize(
    "ignore_text",
    [
        "",
        "node_modules\n",
        "**/node_modules\n*.log\n",
        "docs\n!docs/README.md\n",
        "*\n!src\nsrc/**/*.tmp\n",
        "dist/**\n",
        "dist\n",
        "**\n!**/*.md\n",
        "src\n!src/pkg/util.py\nsrc/pkg\n",
    ],
)
def test_walk_matches_an_independent_walk(tree: Path, ignore_text: str) -> None:
    entries = _walk(tree, ignore_text)
    expected, expected_bytes = independent_expectation(tree, ignore_text)
    assert {e.path for e in entries} == expected
    assert len(entries) == len(expected)  # no duplicates
    assert sum(e.size for e in entries if e.type is EntryType.FILE) == expected_bytes


def test_reincluded_file_brings_its_directory_and_nothing_else(tree: Path) -> None:
    paths = [e.path for e in _walk(tree, "docs\n!docs/README.md\n")]
    assert [p for p in paths if p.startswith("docs")] == ["docs", "docs/README.md"]


def test_dist_double_star_keeps_the_empty_directory(tree: Path) -> None:
    assert "dist" in {e.path for e in _walk(tree, "dist/**\n")}
    assert "dist" not in {e.path for e in _walk(tree, "dist\n")}


def _recording_scandir(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[str]:
    seen: list[str] = []
    real = os.scandir

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        seen.append(os.path.relpath(path, root))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return seen


def test_walker_does_not_descend_into_excluded_directories(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _recording_scandir(monkeypatch, tree)
    _walk(tree, "**/node_modules\ndocs\n!docs/README.md\n")
    assert sorted(seen) == [".", "dist", "docs", "src", "src/pkg", "web"]


def test_walker_descends_when_a_wildcard_exception_may_reinclude(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _recording_scandir(monkeypatch, tree)
    entries = _walk(tree, "node_modules\n!**/package.json\n")
    assert "node_modules/lodash" in seen
    assert [e.path for e in entries if e.path.startswith("node_modules")] == [
        "node_modules",
        "node_modules/lodash",
        "node_modules/lodash/package.json",
    ]


def test_unreadable_directory_is_an_error_only_when_it_is_sent(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, which reads a mode-000 directory anyway; so scandir itself
    # refuses every directory below node_modules, as it would for a user without access.
    real = os.scandir

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if "node_modules" in path:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = _walk(tree, "**/node_modules\n")
    assert not any("node_modules" in e.path for e in entries)
    with pytest.raises(InvalidArgument, match="cannot read directory .*node_modules"):
        _walk(tree, "web\n")


def test_symlinks_are_listed_not_followed(tree: Path) -> None:
    (tree / "link").symlink_to("src")
    (tree / "loop").symlink_to("loop")
    entries = {e.path: e for e in _walk(tree, "")}
    assert entries["link"].type is EntryType.SYMLINK
    assert entries["link"].size == len("src")
    assert "link/main.py" not in entries
    assert entries["loop"].type is EntryType.SYMLINK


def test_entry_mode_and_size(tree: Path) -> None:
    (tree / "run.sh").write_text("#!/bin/sh\n")
    (tree / "run.sh").chmod(0o750)
    entries = {e.path: e for e in _walk(tree, "")}
    assert entries["run.sh"].mode == 0o750
    assert entries["run.sh"].size == 10
    assert entries["src"].type is EntryType.DIR


def test_dockerfile_specific_ignore_file_is_used_by_default(tree: Path) -> None:
    (tree / ".dockerignore").write_text("src\n")
    (tree / "Dockerfile.dockerignore").write_text("docs\n")
    default = {e.path for e in walk_context(tree)}
    assert "src/main.py" not in default and "docs/guide.md" in default
    specific = {e.path for e in walk_context(tree, dockerfile=tree / "Dockerfile")}
    assert "src/main.py" in specific and "docs/guide.md" not in specific


def test_ignored_dockerfile_is_still_readable(tree: Path) -> None:
    (tree / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    paths = {e.path for e in walk_context(tree, dockerfile=tree / "Dockerfile")}
    assert "Dockerfile" not in paths and ".dockerignore" not in paths
    assert (tree / "Dockerfile").read_text().startswith("FROM scratch")
    assert load_dockerignore(tree).lines == ["Dockerfile", ".dockerignore"]


def test_missing_or_bad_context(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        list(walk_context(tmp_path / "nope"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgument):
        list(walk_context(tmp_path / "file"))


def test_progress_only_for_big_trees(tree: Path) -> None:
    progress = RecordingProgress()
    list(walk_context(tree, progress=progress))
    assert progress.events == []


# A random tree and a random ignore file: the pruning walker must agree with the plain
# rule applied to every path of the tree.
_names = st.sampled_from(["a", "b", "c.md", "d.log", "node_modules"])
_paths = st.lists(_names, min_size=1, max_size=4).map("/".join)
_lines = st.sampled_from(
    [
        "a",
        "b/**",
        "**/node_modules",
        "*.md",
        "**/*.log",
        "!a/b",
        "!**/c.md",
        "!a/node_modules/c.md",
        "*/a",
        "!b",
        "a/*/c.md",
        "*",
        "!a/**",
    ]
)


@settings(max_examples=60, deadline=None)
@given(files=st.lists(_paths, min_size=1, max_size=12), lines=st.lists(_lines, max_size=5))
def test_pruning_walk_agrees_with_the_path_rule(files: list[str], lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel in files:
            path = root / rel
            if any(parent.is_file() for parent in path.parents):
                continue
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rel.encode())
        text = "\n".join(lines)
        entries = _walk(root, text)
        expected, expected_bytes = independent_expectation(root, text)
        assert [e.path for e in entries if e.path in expected] == [e.path for e in entries]
        assert {e.path for e in entries} == expected
        assert sum(e.size for e in entries if e.type is EntryType.FILE) == expected_bytes


def test_progress_reported_past_the_threshold(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imageforge.dockerfile._walk.PROGRESS_AFTER", 5)
    progress = RecordingProgress()
    entries = list(walk_context(tree, ignore=parse_dockerignore(""), progress=progress))
    kinds = [e.kind for e in progress.events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    advanced = sum(e.amount or 0 for e in progress.events if e.kind == "advance")
    assert advanced == len(entries)


# --- the context report ------------------------------------------------------------------

from imageforge.dockerfile import context_report, write_dockerignore  # noqa: E402

REPORT_TREE: dict[str, bytes | None] = {
    **TREE,
    ".git/objects/ab": b"o" * 4000,
    ".git/HEAD": b"ref: main\n",
    ".venv/pyvenv.cfg": b"home = /usr\n",
    ".venv/lib/site.py": b"s" * 600,
    "env/pyvenv.cfg": b"home = /usr\n",
    "src/__pycache__/main.cpython-311.pyc": b"c" * 80,
    "src/pkg/cache.pyc": b"c" * 40,
    ".env": b"TOKEN=1\n",
    ".env.example": b"TOKEN=\n",
    "certs/server.pem": b"p" * 30,
    "keep.log": b"k" * 11,
    "build/out.o": b"b" * 500,
    "target/app.jar": b"j" * 700,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_tree(tmp_path, REPORT_TREE)
    return tmp_path


def _all_bytes(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            size += (Path(dirpath) / name).lstat().st_size
    return files, size


def test_report_counts_match_independent_walks(project: Path) -> None:
    (project / ".dockerignore").write_text("**/node_modules\ndocs\n!docs/README.md\n")
    report = context_report(project)
    assert (report.before.files, report.before.bytes) == _all_bytes(project)
    expected, expected_bytes = independent_expectation(
        project, (project / ".dockerignore").read_text()
    )
    assert report.after.bytes == expected_bytes
    assert report.after.files == sum(1 for p in expected if not (project / p).is_dir())
    assert report.ignore_file == str(project / ".dockerignore")


def test_report_flags_what_is_probably_unwanted(project: Path) -> None:
    report = context_report(project)
    by_path = {u.path: u for u in report.unwanted}
    assert by_path[".git"].category == "vcs"
    assert by_path["node_modules"].category == "dependencies"
    assert by_path["web/node_modules"].category == "dependencies"
    assert by_path[".venv"].category == "virtualenv"
    assert by_path["env"].category == "virtualenv"  # found by pyvenv.cfg, not by name
    assert by_path["src/__pycache__"].category == "cache"
    assert by_path["src/pkg/cache.pyc"].category == "cache"
    assert by_path["app.log"].category == "logs"
    assert by_path["build"].category == "build output"
    assert by_path[".env"].secret and by_path["certs/server.pem"].secret
    assert ".env.example" not in by_path
    assert "src/__pycache__/main.cpython-311.pyc" not in by_path  # inside a flagged dir
    assert by_path[".git"].bytes == 4000 + 10 and by_path[".git"].files == 2


def test_suggestion_saving_is_what_the_written_file_gives(project: Path) -> None:
    (project / ".dockerignore").write_text("# mine\ndocs\n")
    report = context_report(project)
    assert report.suggestion and report.saving.bytes > 0
    write_dockerignore(report.suggestion_target, report.suggestion)
    text = (project / ".dockerignore").read_text()
    assert text.startswith("# mine\ndocs\n")
    assert not list(project.glob(".dockerignore.*"))  # no temporary file left behind
    kept = list(walk_context(project))
    assert sum(e.size for e in kept if e.type is EntryType.FILE) == report.with_suggestion.bytes
    assert sum(1 for e in kept if e.type is not EntryType.DIR) == report.with_suggestion.files
    again = context_report(project)
    assert again.after == report.with_suggestion
    assert again.suggestion == ()


def test_never_suggests_ignoring_a_copy_source(project: Path) -> None:
    sources = ["node_modules/lodash/index.js", "build", "*.log", ".env"]
    report = context_report(project, copy_sources=sources)
    write_dockerignore(report.suggestion_target, report.suggestion)
    kept = {e.path for e in walk_context(project)}
    for path in ("node_modules/lodash/index.js", "build/out.o", "app.log", "keep.log", ".env"):
        assert path in kept, path
    by_path = {u.path: u for u in report.unwanted}
    assert by_path["node_modules"].kept_because == "copied by COPY/ADD node_modules/lodash/index.js"
    assert by_path["node_modules"].pattern is None
    # The other node_modules is not copied: it gets a line of its own.
    assert by_path["web/node_modules"].pattern == "web/node_modules"
    assert "web/node_modules/react/index.js" not in kept
    assert ".git/HEAD" not in kept


def test_never_overrides_an_explicit_exception(project: Path) -> None:
    (project / ".dockerignore").write_text("*.tmp\n!keep.log\n")
    report = context_report(project)
    assert "**/*.log" not in report.suggestion
    assert "app.log" in report.suggestion
    by_path = {u.path: u for u in report.unwanted}
    assert by_path["keep.log"].kept_because == (
        f"re-included by !keep.log ({project / '.dockerignore'}:2)"
    )


def test_affected_sources_say_what_copy_dot_loses(project: Path) -> None:
    report = context_report(project, copy_sources=[".", "src"])
    dot = next(a for a in report.affected_sources if a.source == ".")
    assert "node_modules" in dot.drops and ".git" in dot.drops
    assert "node_modules/lodash" not in dot.drops  # only the top of what is dropped
    src = next(a for a in report.affected_sources if a.source == "src")
    assert set(src.drops) == {"src/__pycache__", "src/pkg/cache.pyc"}
    assert src.bytes == 80 + 40


def test_report_uses_the_dockerfile_specific_ignore_file(project: Path) -> None:
    (project / ".dockerignore").write_text("src\n")
    dockerfile = project / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    specific = project / "build" / "app.Dockerfile.dockerignore"
    specific.write_text("docs\n")
    report = context_report(project, dockerfile=dockerfile)
    assert report.ignore_file == str(specific)
    assert report.suggestion_target == specific
    # build/ holds the Dockerfile, so it is not taken for build output.
    assert "build" not in {u.path for u in report.unwanted}
    assert "target" in {u.path for u in report.unwanted}


def test_ignored_source_is_reported(project: Path) -> None:
    (project / ".dockerignore").write_text("docs\n")
    report = context_report(project, copy_sources=["docs/guide.md", "https://x/y.tar"])
    assert report.ignored_sources == ("docs/guide.md",)


def test_biggest_paths(project: Path) -> None:
    report = context_report(project, top=3)
    # web/node_modules (all of web) is left out: it says nothing more than web.
    assert [b.path for b in report.biggest] == [".git", ".git/objects", "web"]
    assert report.biggest[0].bytes == 4010


def test_write_dockerignore_creates_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / ".dockerignore"
    write_dockerignore(target, ["a", "b"])
    assert target.read_text() == "# added by imageforge context\na\nb\n"
    target.write_text("x")  # no trailing newline
    target.chmod(0o600)
    write_dockerignore(target, ["c"])
    assert target.read_text() == "x\n\n# added by imageforge context\nc\n"
    assert target.stat().st_mode & 0o777 == 0o600
