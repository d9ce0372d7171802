"""The ``context`` report: how big a build context is, what in it is probably unwanted,
and what a better ``.dockerignore`` would save.

The tree is read from disk once (:func:`scan_tree`) and then walked in memory through
the current ignore file and through the current file plus the suggestion, so the
promised saving is exactly what the suggested file gives (counting the growth of the
ignore file itself when it is part of the context). A suggestion never ignores a
path a ``COPY``/``ADD`` source names (nor an ancestor of one), nor a path the current
file re-includes with an explicit ``!`` line; the report says which sources lose
content from inside them (``COPY . /app`` loses ``node_modules``, as intended).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageforge.dockerfile._dockerfile import Dockerfile
from imageforge.dockerfile._ignore import (
    DockerIgnore,
    IgnorePattern,
    clean_path,
    escape_pattern,
    find_dockerignore,
    parse_dockerignore,
    read_dockerignore,
)
from imageforge.dockerfile._instructions import Add, Copy
from imageforge.dockerfile._walk import (
    ContextEntry,
    EntryType,
    check_context_dir,
    scan_tree,
    walk_tree,
)
from imageforge.errors import InvalidArgument
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import atomic_write

__all__ = [
    "context_sources",
    "AffectedSource",
    "ContextReport",
    "SizedPath",
    "Totals",
    "Unwanted",
    "context_report",
    "write_dockerignore",
]

SUGGESTION_HEADER = "# added by imageforge context"

_VCS = {".git", ".hg", ".svn"}
_CACHE_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".cache", ".tox"}
_BUILD_DIRS = {"dist", "build", "target"}
_EDITOR_DIRS = {".idea", ".vscode"}
_EDITOR_FILES = {".DS_Store"}
_EDITOR_SUFFIXES = (".swp", ".swo")
_KEY_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"}
_KEY_SUFFIXES = (".pem", ".key")
_DOTENV_SAFE = (".example", ".sample", ".template", ".dist")


@dataclass(frozen=True)
class Totals:
    """``files``: entries that are not directories; ``bytes``: sum of regular files."""

    files: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


@dataclass(frozen=True)
class SizedPath:
    path: str
    type: EntryType
    files: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "type": str(self.type), "files": self.files, "bytes": self.bytes}


@dataclass(frozen=True)
class Unwanted:
    """A path in the context that probably should not be. ``pattern`` is the line the
    suggestion uses for it (None when it must stay, and ``kept_because`` says why)."""

    path: str
    type: EntryType
    category: str
    reason: str
    files: int
    bytes: int
    secret: bool = False
    pattern: str | None = None
    kept_because: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": str(self.type),
            "category": self.category,
            "reason": self.reason,
            "files": self.files,
            "bytes": self.bytes,
            "secret": self.secret,
            "pattern": self.pattern,
            "kept_because": self.kept_because,
        }


@dataclass(frozen=True)
class AffectedSource:
    """A COPY/ADD source from inside which the suggestion drops ``drops``."""

    source: str
    drops: tuple[str, ...]
    files: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "drops": list(self.drops),
            "files": self.files,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class ContextReport:
    context: str
    dockerfile: str | None
    ignore_file: str | None
    ignore_lines: tuple[str, ...]
    before: Totals
    after: Totals
    biggest: tuple[SizedPath, ...]
    unwanted: tuple[Unwanted, ...]
    suggestion: tuple[str, ...]
    with_suggestion: Totals
    copy_sources: tuple[str, ...]
    affected_sources: tuple[AffectedSource, ...]
    ignored_sources: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def saving(self) -> Totals:
        return Totals(
            self.after.files - self.with_suggestion.files,
            self.after.bytes - self.with_suggestion.bytes,
        )

    @property
    def suggestion_target(self) -> Path:
        """The ignore file ``--write-dockerignore`` writes: the one in effect, else
        ``<context>/.dockerignore``."""
        return Path(self.ignore_file or os.path.join(self.context, ".dockerignore"))

    def to_json(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "dockerfile": self.dockerfile,
            "ignore_file": self.ignore_file,
            "ignore_lines": list(self.ignore_lines),
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "biggest": [b.to_json() for b in self.biggest],
            "unwanted": [u.to_json() for u in self.unwanted],
            "suggestion": {
                "file": str(self.suggestion_target),
                "lines": list(self.suggestion),
                "after": self.with_suggestion.to_json(),
                "saving": self.saving.to_json(),
            },
            "copy_sources": list(self.copy_sources),
            "affected_sources": [a.to_json() for a in self.affected_sources],
            "ignored_sources": list(self.ignored_sources),
            "warnings": list(self.warnings),
        }


def _totals(entries: Iterable[ContextEntry]) -> Totals:
    files = size = 0
    for e in entries:
        if e.type is not EntryType.DIR:
            files += 1
            if e.type is EntryType.FILE:
                size += e.size
    return Totals(files, size)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _classify(
    entry: ContextEntry, tree: dict[str, list[ContextEntry]], dockerfile_rel: str | None
) -> tuple[str, str, str, bool] | None:
    """(category, reason, group pattern, secret) for a probably unwanted entry."""
    name = entry.name
    if entry.type is EntryType.DIR:
        if name in _VCS:
            return "vcs", "version-control metadata", f"**/{name}", False
        if name == "node_modules":
            return (
                "dependencies",
                "installed packages; install them in the image",
                ("**/node_modules"),
                False,
            )
        if any(c.name == "pyvenv.cfg" for c in tree.get(entry.path, ())):
            return "virtualenv", "a Python virtualenv (has pyvenv.cfg)", f"**/{name}", False
        if name in _CACHE_DIRS:
            return "cache", "a tool's cache", f"**/{name}", False
        if name in _BUILD_DIRS:
            if dockerfile_rel is not None and dockerfile_rel.startswith(entry.path + "/"):
                return None  # holds the Dockerfile: a source directory, not output
            return "build output", "build output; build it in the image", f"**/{name}", False
        if name in _EDITOR_DIRS:
            return "editor", "editor settings", f"**/{name}", False
        return None
    if entry.type not in (EntryType.FILE, EntryType.SYMLINK):
        return None
    if name.endswith(".pyc"):
        return "cache", "compiled Python", "**/*.pyc", False
    if name.endswith(".log"):
        return "logs", "a log file", "**/*.log", False
    if name in _EDITOR_FILES or name.endswith(_EDITOR_SUFFIXES) or name.endswith("~"):
        pattern = f"**/{name}" if name in _EDITOR_FILES else f"**/*{name[name.rfind('.') :]}"
        if name.endswith("~"):
            pattern = "**/*~"
        return "editor", "an editor's temporary file", pattern, False
    if (name == ".env" or name.startswith(".env.")) and not name.endswith(_DOTENV_SAFE):
        return "secret", "environment file, often holds credentials", f"**/{name}", True
    if name in _KEY_NAMES:
        return "secret", "a private SSH key", f"**/{name}", True
    if name.endswith(_KEY_SUFFIXES):
        suffix = name[name.rfind(".") :]
        return "secret", "a key or certificate file", f"**/*{suffix}", True
    return None


def _source_paths(source: str, every: Sequence[str]) -> tuple[str, list[str]] | None:
    """A COPY/ADD source cleaned and the context paths it names (None for URLs)."""
    if "://" in source or source.startswith("git@"):
        return None
    cleaned = clean_path(source.lstrip("/") or ".")
    if cleaned == "." or cleaned.startswith("../") or cleaned == "..":
        return cleaned, ["."]
    if not any(ch in cleaned for ch in "*?[\\"):
        return cleaned, [cleaned]
    try:
        glob = IgnorePattern(cleaned)
    except Exception:  # a source that is no valid glob names nothing
        return cleaned, []
    return cleaned, [p for p in every if glob.matches(p)]


def _conflict(
    pattern: IgnorePattern,
    copied: dict[str, str],
    protected: dict[str, str],
) -> str | None:
    """Why ``pattern`` must not be suggested: it hits a copied or protected path."""
    for path, source in copied.items():
        if path != "." and pattern.hits(path):
            return f"copied by COPY/ADD {source}"
    for path, why in protected.items():
        if pattern.hits(path):
            return why
    return None


def _aggregate(kept: Sequence[ContextEntry]) -> dict[str, list[int]]:
    """Kept files and bytes below each directory (including ignored ancestors)."""
    agg: dict[str, list[int]] = {}
    for e in kept:
        if e.type is EntryType.DIR:
            continue
        size = e.size if e.type is EntryType.FILE else 0
        parent = _parent(e.path)
        while parent:
            slot = agg.setdefault(parent, [0, 0])
            slot[0] += 1
            slot[1] += size
            parent = _parent(parent)
    return agg


def context_report(
    context: str | Path,
    *,
    dockerfile: str | Path | None = None,
    copy_sources: Sequence[str] = (),
    ignore: DockerIgnore | None = None,
    top: int = 10,
    progress: ProgressSink = NULL_PROGRESS,
) -> ContextReport:
    """Measure ``context`` before and after its ignore file (the one BuildKit would use
    for ``dockerfile`` unless ``ignore`` is given) and suggest lines to add.

    ``copy_sources`` are the COPY/ADD source arguments (paths or globs relative to the
    context, without ``--from``); nothing they name is ever suggested for ignoring.
    """
    root = check_context_dir(context)
    ignore_path = find_dockerignore(root, dockerfile) if ignore is None else None
    if ignore is None:
        ignore = read_dockerignore(ignore_path) if ignore_path else DockerIgnore()
    warnings: list[str] = []

    def on_error(rel: str, exc: OSError) -> None:
        warnings.append(f"cannot read {rel or '.'}: {exc.strerror}")

    tree = scan_tree(root, progress=progress, on_error=on_error)

    def lister(rel: str) -> list[ContextEntry]:
        return tree.get(rel, [])

    every = [e for children in tree.values() for e in children]
    by_path = {e.path: e for e in every}
    current = list(walk_tree(lister, ignore))
    kept = [e for e, _ in current]
    kept_paths = {e.path for e in kept}
    agg = _aggregate(kept)

    def sized(e: ContextEntry) -> SizedPath:
        if e.type is EntryType.DIR:
            files, size = agg.get(e.path, [0, 0])
            return SizedPath(e.path, e.type, files, size)
        return SizedPath(e.path, e.type, 1, e.size if e.type is EntryType.FILE else 0)

    # The biggest paths, leaving out a directory's only heavy child (same bytes).
    biggest: list[SizedPath] = []
    shown: dict[str, int] = {}
    for s in sorted((sized(e) for e in kept), key=lambda s: (-s.bytes, s.path)):
        if len(biggest) >= top:
            break
        if shown.get(_parent(s.path)) == s.bytes:
            shown[s.path] = s.bytes
            continue
        shown[s.path] = s.bytes
        biggest.append(s)

    # What the Dockerfile copies, and what the current file re-includes on purpose.
    copied: dict[str, str] = {}
    ignored_sources: list[str] = []
    all_paths = list(by_path)
    for source in copy_sources:
        named = _source_paths(source, all_paths)
        if named is None:
            continue
        for p in named[1]:
            copied.setdefault(p, source)
            if p != "." and p in by_path and p not in kept_paths:
                ignored_sources.append(source)
    protected: dict[str, str] = {}
    for entry, decision in current:
        if decision.direct and decision.last >= 0 and not decision.ignored:
            pattern = ignore.patterns[decision.last]
            where = f"{pattern.source}:{pattern.line}" if pattern.line else "the ignore file"
            protected[entry.path] = f"re-included by !{pattern.text} ({where})"

    dockerfile_rel: str | None = None
    if dockerfile is not None:
        rel = os.path.relpath(os.path.abspath(dockerfile), os.path.abspath(root))
        dockerfile_rel = None if rel.startswith("..") else rel.replace(os.sep, "/")

    # Find probably unwanted entries; nothing below a flagged directory is flagged again.
    found: list[tuple[ContextEntry, str, str, str, bool]] = []
    flagged: str | None = None
    for e in kept:
        if flagged is not None and e.path.startswith(flagged + "/"):
            continue
        hit = _classify(e, tree, dockerfile_rel)
        if hit is None:
            continue
        category, reason, group, secret = hit
        found.append((e, category, reason, group, secret))
        if e.type is EntryType.DIR:
            flagged = e.path

    # Choose lines: one "**/name" line per group when it is safe, else one per path.
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(found):
        groups.setdefault(item[3], []).append(i)
    line_of: dict[int, str] = {}
    why_kept: dict[int, str] = {}
    suggestion: list[str] = []
    for group, members in groups.items():
        if group in ignore.lines:
            continue
        if _conflict(IgnorePattern(group), copied, protected) is None:
            suggestion.append(group)
            for i in members:
                line_of[i] = group
            continue
        for i in members:
            line = escape_pattern(found[i][0].path)
            why = _conflict(parse_dockerignore(line).patterns[0], copied, protected)
            if why is None:
                suggestion.append(line)
                line_of[i] = line
            else:
                why_kept[i] = why

    merged = ignore.extended(suggestion, source="suggestion")
    after_suggestion = list(walk_tree(lister, merged))
    kept_after = {e.path for e, _ in after_suggestion}
    dropped = kept_paths - kept_after

    target = Path(ignore_path or root / ".dockerignore")
    grow = _target_growth(target, root, suggestion, merged)
    plain = _totals(e for e, _ in after_suggestion)
    with_suggestion = Totals(plain.files + grow.files, plain.bytes + grow.bytes)

    affected: list[AffectedSource] = []
    for source in copy_sources:
        named = _source_paths(source, all_paths)
        if named is None:
            continue
        paths = named[1]
        inside = {
            p for p in dropped if any(s == "." or p.startswith(s + "/") or p == s for s in paths)
        }
        if not inside:
            continue
        tops = sorted(p for p in inside if _parent(p) not in inside)
        totals = _totals(by_path[p] for p in inside)
        affected.append(AffectedSource(source, tuple(tops), totals.files, totals.bytes))

    unwanted = []
    for i, (e, category, reason, _group, secret) in enumerate(found):
        s = sized(e)
        unwanted.append(
            Unwanted(
                e.path,
                e.type,
                category,
                reason,
                s.files,
                s.bytes,
                secret,
                line_of.get(i),
                why_kept.get(i),
            )
        )

    return ContextReport(
        context=str(root.resolve()),
        dockerfile=str(dockerfile) if dockerfile is not None else None,
        ignore_file=str(ignore_path) if ignore_path else ignore.source,
        ignore_lines=tuple(ignore.lines),
        before=_totals(every),
        after=_totals(kept),
        biggest=tuple(biggest),
        unwanted=tuple(unwanted),
        suggestion=tuple(suggestion),
        with_suggestion=with_suggestion,
        copy_sources=tuple(copy_sources),
        affected_sources=tuple(affected),
        ignored_sources=tuple(dict.fromkeys(ignored_sources)),
        warnings=tuple(warnings),
    )


def _merged(old: bytes, lines: Sequence[str]) -> bytes:
    """The ignore file's new contents: the old lines, a header, the new lines."""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    sep = b"\n" if old else b""
    body = "\n".join([SUGGESTION_HEADER, *lines]) + "\n"
    return old + sep + body.encode("utf-8", "surrogateescape")


def _target_growth(target: Path, root: Path, lines: Sequence[str], merged: DockerIgnore) -> Totals:
    """How writing the suggestion changes the context itself: the ignore file grows
    (or appears), and is part of the context unless it ignores itself."""
    if not lines:
        return Totals()
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(root))
    if rel.startswith("..") or merged.is_ignored(rel.replace(os.sep, "/")):
        return Totals()
    try:
        old = target.read_bytes()
        existed = 1
    except FileNotFoundError:
        old, existed = b"", 0
    return Totals(1 - existed, len(_merged(old, lines)) - len(old))


def write_dockerignore(path: str | Path, lines: Sequence[str]) -> Path:
    """Append ``lines`` (under a comment header) after the existing contents of the
    ignore file ``path``, atomically: a temporary file in the same directory, fsync,
    rename over the old file, fsync of the directory. Keeps the old file's mode."""
    path = Path(path)
    try:
        old = path.read_bytes()
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        old, mode = b"", 0o644
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None
    data = _merged(old, lines)
    atomic_write(path, data, mode)
    return path


def context_sources(dockerfile: Dockerfile) -> list[str]:
    """The context paths a Dockerfile's COPY and ADD read, in order: sources of COPY
    without ``--from`` and of ADD, less heredoc names (their content is inline)."""
    out: list[str] = []
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if isinstance(instruction, Copy) and instruction.from_ is not None:
                continue
            if isinstance(instruction, Copy | Add):
                out.extend(
                    s
                    for s in instruction.sources
                    if not (instruction.heredocs and s.startswith("<<"))
                )
    return out
