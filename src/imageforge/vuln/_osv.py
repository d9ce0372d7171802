"""OSV records: validated against the OSV JSON schema (ossf/osv-schema's
``validation/schema.json``, committed under ``schemas/`` with its licence) and read into
:class:`~imageforge.vuln._model.Advisory`.

The validator is ``jsonschema-rs`` (draft 2020-12, compiled once): it gave the same
verdict as the ``jsonschema`` package on every one of 6,952 real records (golang/vulndb
and pypa/advisory-database) at 1/170 of its CPU time, which is what an update of
osv.dev's hundreds of thousands of records needs.

What is kept: every ``affected`` entry of an ecosystem whose versions can be ordered
(:func:`~imageforge.vuln._versions.scheme_for`), its ``ECOSYSTEM`` and ``SEMVER`` ranges
and its ``versions`` list. ``GIT`` ranges are ignored (they name commits, which an image
does not record), and so is a schema error inside one: real records carry abbreviated
or suffixed commits there (pypa's PYSEC-2021-424 fixes at ``cb35df940a``), and their
ECOSYSTEM ranges are the vulnerability; an entry left with neither ranges nor versions is
dropped. A
``withdrawn`` record is dropped whole (:func:`parse_record` returns None). RustSec's
``database_specific.informational`` (``unmaintained``, ``unsound``, ``notice``) marks an
entry as informational: matching reports it apart from vulnerabilities. Severity comes
from ``severity`` (CVSS vectors), else an entry's ``ecosystem_specific.severity`` or the
record's ``database_specific.severity`` (GHSA's label)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from imageforge.vuln._model import Advisory, Affected, Event, Range, SeverityVector
from imageforge.vuln._versions import scheme_for

__all__ = ["RecordError", "osv_validator", "parse_record"]


class RecordError(ValueError):
    """A record that cannot be imported; the message says why (the caller names it)."""


@cache
def osv_validator() -> jsonschema_rs.Draft202012Validator:
    text = resources.files("imageforge.vuln").joinpath("schemas/osv-schema.json").read_text()
    return jsonschema_rs.Draft202012Validator(json.loads(text))


def _in_git_range(record: Any, path: list[str | int]) -> bool:
    """Whether ``path`` (a schema error's place) lies inside a GIT range of ``record``."""
    if len(path) < 4 or path[0] != "affected" or path[2] != "ranges":
        return False
    try:
        rng = record["affected"][path[1]]["ranges"][path[3]]
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(rng, Mapping) and rng.get("type") == "GIT"


def _validate(record: Any) -> None:
    validator = osv_validator()
    try:
        if validator.is_valid(record):
            return
        errors = [
            (list(e.instance_path), e.message)
            for e in validator.iter_errors(record)
            if not _in_git_range(record, list(e.instance_path))
        ]
    except ValueError as exc:  # a value JSON has no type for (YAML's !!binary, !!set...)
        raise RecordError(f"is not JSON data: {exc}") from None
    if errors:
        path, message = min(errors, key=lambda e: [str(p) for p in e[0]])
        where = "/".join(str(p) for p in path) or "(top level)"
        raise RecordError(f"does not follow the OSV schema at {where}: {message}")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ranges(entry: Mapping[str, Any]) -> tuple[Range, ...]:
    out: list[Range] = []
    for rng in entry.get("ranges") or ():
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT: commit ranges, which nothing in an image records
        events: list[Event] = []
        for event in rng.get("events") or ():
            for kind in ("introduced", "fixed", "last_affected", "limit"):
                if kind in event:
                    events.append(Event(kind, str(event[kind])))
        if events:
            out.append(Range(rng["type"], tuple(events)))
    return tuple(out)


def parse_record(record: Any, *, source: str) -> Advisory | None:
    """The advisory of one OSV record (a parsed JSON or YAML document), or None when it
    is withdrawn. :class:`RecordError` when it does not follow the schema."""
    _validate(record)
    if record.get("withdrawn"):
        return None
    record_severity = None
    db_specific = record.get("database_specific")
    if isinstance(db_specific, Mapping):
        record_severity = _str(db_specific.get("severity"))
    affected: list[Affected] = []
    for entry in record.get("affected") or ():
        package = entry.get("package") or {}
        ecosystem_full = _str(package.get("ecosystem"))
        name = _str(package.get("name"))
        if ecosystem_full is None or name is None or scheme_for(ecosystem_full) is None:
            continue
        ecosystem, _, release = ecosystem_full.partition(":")
        ranges = _ranges(entry)
        versions = tuple(str(v) for v in entry.get("versions") or ())
        if not ranges and not versions:
            continue
        eco_specific = entry.get("ecosystem_specific")
        entry_severity = None
        if isinstance(eco_specific, Mapping):
            entry_severity = _str(eco_specific.get("severity"))
        entry_db = entry.get("database_specific")
        informational = None
        if isinstance(entry_db, Mapping):
            informational = _str(entry_db.get("informational"))
        affected.append(
            Affected(
                ecosystem=ecosystem,
                name=name,
                release=release,
                ranges=ranges,
                versions=versions,
                severity=entry_severity,
                informational=informational,
            )
        )
    severity = tuple(
        SeverityVector(str(s.get("type")), str(s.get("score")))
        for s in record.get("severity") or ()
        if isinstance(s, Mapping)
    )
    url = None
    for ref in record.get("references") or ():
        if ref.get("type") == "ADVISORY" and isinstance(ref.get("url"), str):
            url = ref["url"]
            break
    return Advisory(
        id=record["id"],
        source=source,
        aliases=tuple(dict.fromkeys(str(a) for a in record.get("aliases") or () if a)),
        summary=_str(record.get("summary")) or (_str(record.get("details")) or "")[:300],
        published=_str(record.get("published")),
        modified=_str(record.get("modified")),
        severity=severity,
        source_severity=record_severity,
        affected=tuple(affected),
        url=url,
    )
