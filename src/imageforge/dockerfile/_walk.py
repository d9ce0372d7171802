"""Walking a build context through ``.dockerignore``, as BuildKit streams it.

The walk is depth-first with the names of each directory sorted bytewise, symlinks are
listed and never followed, and each pattern's hit on a directory is carried down to its
children so no ancestor is matched twice. An ignored directory is not descended into
unless an exception could re-include something below it (BuildKit's rule, see
:meth:`DockerIgnore.may_reinclude_below`); ignored directories are not listed, except
as the ancestors of a re-included entry, which they then precede.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from imageforge.dockerfile._ignore import DockerIgnore, load_dockerignore
from imageforge.errors import InvalidArgument, NotFound
from imageforge.progress import NULL_PROGRESS, ProgressSink

__all__ = ["ContextEntry", "EntryType", "walk_context"]


class EntryType(enum.StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # fifo, socket, device


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One entry of a context: ``path`` relative to the context root, ``/``-separated;
    ``size`` in bytes as ``lstat`` gives it (a symlink's is its target's length);
    ``mode`` the permission bits."""

    path: str
    type: EntryType
    size: int
    mode: int

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


Lister = Callable[[str], Sequence[ContextEntry]]
OnError = Callable[[str, OSError], None]


def _entry_type(mode: int) -> EntryType:
    if stat.S_ISREG(mode):
        return EntryType.FILE
    if stat.S_ISDIR(mode):
        return EntryType.DIR
    if stat.S_ISLNK(mode):
        return EntryType.SYMLINK
    return EntryType.OTHER


# Progress is shown only for trees big enough to take a noticeable time.
PROGRESS_AFTER = 20_000


class _DiskLister:
    """Lists one directory with ``os.scandir`` (one ``lstat`` per entry); reports the
    count of entries to ``progress`` once it passes :data:`PROGRESS_AFTER`; errors go
    to ``on_error`` or become InvalidArgument."""

    def __init__(
        self, root: Path, progress: ProgressSink, on_error: OnError | None, what: str
    ) -> None:
        self.root = str(root)
        self.progress = progress
        self.on_error = on_error
        self.what = what
        self.scanned = 0
        self.started = False

    def __call__(self, rel: str) -> list[ContextEntry]:
        full = os.path.join(self.root, rel) if rel else self.root
        try:
            with os.scandir(full) as it:
                found = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            if self.on_error is None:
                raise InvalidArgument(
                    f"cannot read directory {full}: {exc.strerror}",
                    hint="make it readable or add it to .dockerignore",
                ) from None
            self.on_error(rel, exc)
            return []
        prefix = rel + "/" if rel else ""
        out: list[ContextEntry] = []
        for entry in found:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while we walked
                continue
            out.append(
                ContextEntry(
                    prefix + entry.name,
                    _entry_type(st.st_mode),
                    st.st_size,
                    stat.S_IMODE(st.st_mode),
                )
            )
        self.scanned += len(out)
        if self.started:
            self.progress.advance(_PROGRESS_KEY, len(out))
        elif self.scanned >= PROGRESS_AFTER:
            self.started = True
            self.progress.start(_PROGRESS_KEY, f"{self.what} {self.root}", unit="entries")
            self.progress.advance(_PROGRESS_KEY, self.scanned)
        return out

    def finish(self) -> None:
        if self.started:
            self.progress.done(_PROGRESS_KEY, f"{self.scanned} entries")


_PROGRESS_KEY = "context-walk"


@dataclass(frozen=True, slots=True)
class Decision:
    """Why an entry is in or out: ``last`` is the index of the last pattern that hits it
    (-1: none), ``direct`` whether that pattern matched the entry itself rather than an
    ancestor, ``ignored`` the verdict (an ignored entry may still be listed as the
    ancestor of a re-included one)."""

    last: int
    direct: bool
    ignored: bool


class _Frame:
    __slots__ = ("entry", "hits", "children", "index")

    def __init__(
        self, entry: ContextEntry | None, hits: tuple[bool, ...], children: Sequence[ContextEntry]
    ) -> None:
        self.entry = entry
        self.hits = hits
        self.children = children
        self.index = 0


def walk_tree(lister: Lister, ignore: DockerIgnore) -> Iterator[tuple[ContextEntry, Decision]]:
    """The core walk over any ``lister`` (children of a relative directory, ``""`` being
    the root, sorted): yields each entry of the context with its :class:`Decision`."""
    patterns = ignore.patterns
    exceptional = [p.exception for p in patterns]
    matchers = [p.matches for p in patterns]
    count = len(patterns)
    order = range(count - 1, -1, -1)
    never_reincluded = not ignore.has_exceptions
    frames = [_Frame(None, (False,) * count, lister(""))]
    emitted = 1  # frames[:emitted] have been yielded (the root needs no entry)
    pending: list[tuple[ContextEntry, Decision]] = []  # ignored dirs, yielded if needed
    while frames:
        frame = frames[-1]
        if frame.index >= len(frame.children):
            frames.pop()
            if emitted > len(frames):
                emitted = len(frames)
            else:  # the frame of an ignored directory that had nothing kept
                pending.pop()
            continue
        entry = frame.children[frame.index]
        frame.index += 1
        parent = frame.hits
        path = entry.path
        if entry.type is EntryType.DIR:
            hits = tuple(parent[i] or matchers[i](path) for i in range(count))
            last = next((i for i in order if hits[i]), -1)
            direct = last >= 0 and not parent[last]
        else:
            hits = parent
            last, direct = -1, False
            for i in order:
                if parent[i]:
                    last = i
                    break
                if matchers[i](path):
                    last, direct = i, True
                    break
        ignored = last >= 0 and not exceptional[last]
        decision = Decision(last, direct, ignored)
        if ignored:
            if entry.type is EntryType.DIR and not never_reincluded:
                if ignore.may_reinclude_below(path):
                    pending.append((entry, decision))
                    frames.append(_Frame(entry, hits, lister(path)))
            continue
        # A kept entry: first the ignored directories above it that were not listed.
        if pending:
            yield from pending
            pending.clear()
        emitted = len(frames)
        yield entry, decision
        if entry.type is EntryType.DIR:
            frames.append(_Frame(entry, hits, lister(path)))
            emitted += 1


def check_context_dir(context: str | Path) -> Path:
    """``context`` as a Path, or NotFound / InvalidArgument if it is not a directory."""
    path = Path(context)
    if not path.exists():
        raise NotFound(f"build context {path} does not exist", hint="check the DIR argument")
    if not path.is_dir():
        raise InvalidArgument(f"build context {path} is not a directory")
    return path


def walk_context(
    context: str | Path,
    *,
    dockerfile: str | Path | None = None,
    ignore: DockerIgnore | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> Iterator[ContextEntry]:
    """The entries BuildKit would send for ``context``, in walk order. ``ignore``
    defaults to the ignore file BuildKit would pick for ``dockerfile``
    (``<Dockerfile>.dockerignore``, else ``<context>/.dockerignore``)."""
    root = check_context_dir(context)
    if ignore is None:
        ignore = load_dockerignore(root, dockerfile)
    lister = _DiskLister(root, progress, None, "walking context")
    for entry, _ in walk_tree(lister, ignore):
        yield entry
    lister.finish()


def scan_tree(
    context: Path, *, progress: ProgressSink = NULL_PROGRESS, on_error: OnError | None = None
) -> dict[str, list[ContextEntry]]:
    """Every directory of the tree (ignoring nothing) mapped to its sorted children:
    ``""`` is the root. Feeds :func:`walk_tree` several times without re-reading disk."""
    lister = _DiskLister(context, progress, on_error, "scanning context")
    tree: dict[str, list[ContextEntry]] = {}
    todo = [""]
    while todo:
        rel = todo.pop()
        children = lister(rel)
        tree[rel] = children
        todo.extend(c.path for c in children if c.type is EntryType.DIR)
    lister.finish()
    return tree
