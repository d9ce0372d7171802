"""Reading OSV records from where they are kept: a directory tree of ``.json`` files
(golang/vulndb's ``data/osv``, rustsec's ``osv`` branch, github/advisory-database), of
``.yaml``/``.yml`` files (pypa/advisory-database keeps OSV as YAML), or a zip of them
(osv.dev's ``<ecosystem>/all.zip``).

A file that cannot be read, parsed or validated is one warning naming it and why; the
other records are still read. A zip that is corrupt or truncated is read as far as its
central directory allows: a missing directory is one warning for the whole archive, a
damaged member one warning for that member."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from imageforge.vuln._model import Advisory
from imageforge.vuln._osv import RecordError, parse_record

__all__ = ["MAX_RECORD_BYTES", "read_osv"]

Warn = Callable[[str], None]
MAX_RECORD_BYTES = 16 * 1024 * 1024  # no real record comes near; a bomb stops here


_NO_TIMESTAMPS = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _StringTimestamps(yaml.SafeLoader):
    """YAML without implicit timestamps: OSV's times stay strings, as in its JSON."""


_StringTimestamps.yaml_implicit_resolvers = _NO_TIMESTAMPS
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = _StringTimestamps

if yaml.__with_libyaml__:  # libyaml parses (PyYAML's wheels have it): 8x faster here

    class _CStringTimestamps(yaml.CSafeLoader):
        """The same, parsed by libyaml."""

    _CStringTimestamps.yaml_implicit_resolvers = _NO_TIMESTAMPS
    _Loader = _CStringTimestamps


def _parse(data: bytes, name: str) -> Any:
    if name.endswith((".yaml", ".yml")):
        return yaml.load(data.decode("utf-8"), Loader=_Loader)  # noqa: S506
    return json.loads(data)


def _record(data: bytes, name: str, source: str, warn: Warn) -> Advisory | None:
    try:
        doc = _parse(data, name)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        warn(
            f"{name}: not valid {'YAML' if name.endswith(('.yaml', '.yml')) else 'JSON'}: "
            f"{str(exc).splitlines()[0]}; skipped"
        )
        return None
    try:
        return parse_record(doc, source=source)
    except RecordError as exc:
        rid = doc.get("id") if isinstance(doc, dict) else None
        warn(f"{name}{f' ({rid})' if isinstance(rid, str) else ''}: {exc}; skipped")
        return None


def _is_record_name(name: str) -> bool:
    return name.endswith((".json", ".yaml", ".yml")) and not os.path.basename(name).startswith(".")


def _from_zip(path: Path, source: str, warn: Warn) -> Iterator[Advisory]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        warn(f"{path}: not a readable zip archive ({exc}); nothing imported from it")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not _is_record_name(info.filename):
                continue
            name = f"{path}!{info.filename}"
            if info.file_size > MAX_RECORD_BYTES:
                warn(f"{name}: {info.file_size} bytes, more than any record; skipped")
                continue
            try:
                with archive.open(info) as member:
                    data = member.read(MAX_RECORD_BYTES + 1)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as exc:
                warn(f"{name}: damaged in the archive ({exc}); skipped")
                continue
            advisory = _record(data, name, source, warn)
            if advisory is not None:
                yield advisory


def _from_dir(path: Path, source: str, warn: Warn) -> Iterator[Advisory]:
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if not _is_record_name(filename):
                continue
            file = Path(dirpath) / filename
            try:
                if file.stat().st_size > MAX_RECORD_BYTES:
                    warn(f"{file}: larger than any record; skipped")
                    continue
                data = file.read_bytes()
            except OSError as exc:
                warn(f"{file}: cannot be read ({exc.strerror}); skipped")
                continue
            advisory = _record(data, str(file), source, warn)
            if advisory is not None:
                yield advisory


def read_osv(path: Path, *, source: str, warn: Warn) -> Iterator[Advisory]:
    """Every importable advisory under ``path`` (a directory, a zip, or one record
    file); withdrawn records are left out silently, broken ones with a warning."""
    if path.is_dir():
        yield from _from_dir(path, source, warn)
    elif zipfile.is_zipfile(path) or path.suffix == ".zip":
        yield from _from_zip(path, source, warn)
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            warn(f"{path}: cannot be read ({exc.strerror}); skipped")
            return
        advisory = _record(data, str(path), source, warn)
        if advisory is not None:
            yield advisory
