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
