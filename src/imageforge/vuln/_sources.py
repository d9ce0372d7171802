"""``vulndb import SOURCE``: what a SOURCE names and how it is read.

- ``osv:PATH``: OSV records, a directory tree (JSON or YAML) or a zip (osv.dev's
  ``all.zip``), or one record file.
- ``debian-tracker:DIR``: a checkout (or excerpt) of Debian's security tracker.
- ``debian-tracker-json:FILE``: the tracker's JSON export.
- ``alpine-secdb:PATH``: an Alpine secdb JSON file, or a directory of them.

The source's name in the database is the kind and the absolute path, so importing the
same place again replaces what it gave before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import InvalidArgument, NotFound
from imageforge.vuln._alpine import read_secdb
from imageforge.vuln._db import SourceBatch, SourceStatus, write_sources
from imageforge.vuln._debian import read_tracker
from imageforge.vuln._debian_json import read_tracker_json
from imageforge.vuln._model import Advisory
from imageforge.vuln._osv_read import read_osv

__all__ = ["IMPORT_KINDS", "ImportReport", "import_source", "read_source"]

IMPORT_KINDS = ("osv", "debian-tracker", "debian-tracker-json", "alpine-secdb")
Warn = Callable[[str], None]


@dataclass(frozen=True)
class ImportReport:
    source: SourceStatus
    warnings: tuple[str, ...]


def _split(spec: str) -> tuple[str, Path]:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in IMPORT_KINDS or not rest:
        raise InvalidArgument(
            f"unknown vulnerability data source {spec!r}",
            hint="use osv:DIR|ZIP|FILE, debian-tracker:DIR, debian-tracker-json:FILE or "
            "alpine-secdb:FILE|DIR",
        )
    path = Path(rest).expanduser()
    if not path.exists():
        raise NotFound(f"{path} does not exist", hint=f"{kind}: needs a path on this machine")
    return kind, path.resolve()


def read_source(kind: str, path: Path, name: str, warn: Warn) -> Iterator[Advisory]:
    if kind == "osv":
        return read_osv(path, source=name, warn=warn)
    if kind == "debian-tracker":
        if not (path / "data" / "CVE" / "list").is_file():
            raise InvalidArgument(
                f"{path} is not a Debian security tracker checkout (no data/CVE/list)",
                hint="give the directory that holds data/CVE/list",
            )
        return read_tracker(path, source=name, warn=warn)
    if kind == "debian-tracker-json":
        return read_tracker_json(path, source=name, warn=warn)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    return read_secdb(files, source=name, warn=warn)


class _Counted:
    """Advisories of a reader, counting them and the warnings as they pass."""

    def __init__(self, it: Iterator[Advisory]) -> None:
        self.it = it
        self.count = 0

    def __iter__(self) -> Iterator[Advisory]:
        for adv in self.it:
            self.count += 1
            yield adv


def import_source(root: Path, spec: str, warn: Warn) -> ImportReport:
    """Import ``spec`` into the database under ``root`` (built beside and swapped in).
    A source that gives no advisory at all while warning about its input is refused
    (the database keeps what it had): that is a broken file, not an empty feed."""
    kind, path = _split(spec)
    name = f"{kind}:{path}"
    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        warn(message)

    counted = _Counted(read_source(kind, path, name, note))
    batch = SourceBatch(name=name, kind=kind, location=str(path), advisories=counted)

    class _Empty(Exception):
        pass

    def guarded() -> Iterator[Advisory]:
        yield from counted
        if counted.count == 0 and warnings:
            raise _Empty

    batch.advisories = guarded()
    try:
        [status] = write_sources(root, [batch])
    except _Empty:
        raise InvalidArgument(
            f"nothing could be imported from {spec} ({len(warnings)} problems, see the warnings)",
            hint="the vulnerability database was left as it was",
        ) from None
    if warnings:
        status = SourceStatus(**{**status.__dict__, "warnings": len(warnings)})
    return ImportReport(status, tuple(warnings))
