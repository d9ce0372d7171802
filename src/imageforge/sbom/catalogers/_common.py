"""What every language cataloger shares: bounded reads that warn instead of raising,
and the per-file guard that turns an unforeseen parse failure into a warning."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from imageforge.errors import ImageforgeError
from imageforge.sbom._files import Files, Warn
from imageforge.sbom._model import Package

__all__ = [
    "MAX_MANIFEST",
    "basename",
    "guarded",
    "read_bounded",
    "read_text",
]

#: The largest manifest (METADATA, package.json, lock file, gemspec...) read; a bigger
#: one is refused with a warning rather than read into memory.
MAX_MANIFEST = 16 * 1024 * 1024

T = TypeVar("T")


def basename(path: str) -> str:
    return posixpath.basename(path)


def read_bounded(files: Files, path: str, warn: Warn, limit: int = MAX_MANIFEST) -> bytes | None:
    """The content of ``path``, or ``None`` after one warning when it is missing, not a
    regular file, over ``limit`` bytes, or unreadable."""
    info = files.info(path)
    if info is None or info.kind != "file":
        warn(path, "not a regular file")
        return None
    if info.size > limit:
        warn(path, f"{info.size} bytes is over the {limit} byte limit for a manifest; not read")
        return None
    try:
        data = files.read(path)
    except (ImageforgeError, OSError) as exc:
        warn(path, f"cannot be read: {exc}")
        return None
    if len(data) > limit:
        warn(path, f"over the {limit} byte limit for a manifest; not read")
        return None
    return data


def read_text(files: Files, path: str, warn: Warn, limit: int = MAX_MANIFEST) -> str | None:
    """:func:`read_bounded` decoded as UTF-8 (undecodable bytes replaced)."""
    data = read_bounded(files, path, warn, limit)
    return None if data is None else data.decode("utf-8", errors="replace")


def guarded(
    paths: Iterable[str], parse: Callable[[str], Iterable[Package]], warn: Warn
) -> Iterator[Package]:
    """``parse(path)`` for each path, in sorted order; content that breaks a parser in
    a way it did not foresee becomes one warning for that file and the run goes on."""
    for path in sorted(paths):
        try:
            found = list(parse(path))
        except RecursionError:
            warn(path, "nested too deeply to parse")
            continue
        except Exception as exc:  # noqa: BLE001 - a cataloger never raises for content
            warn(path, f"cannot be parsed: {type(exc).__name__}: {exc}")
            continue
        yield from found
