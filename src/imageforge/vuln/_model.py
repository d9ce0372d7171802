"""The advisory model every source is read into, and what the database stores.

An :class:`Advisory` is one record of one source (an OSV record, a Debian tracker CVE
entry, an Alpine secdb fix): its id, aliases, text, severity vectors, and what it
affects. An :class:`Affected` names a package in an ecosystem (``release`` narrows it to
one distribution release, ``""`` means every release without an entry of its own) and
says which versions are affected: OSV ranges of events, an explicit version list, and a
``status`` for the distributions' triage (``fixed``, ``affected``, ``will_not_fix``,
``fix_deferred``, ``end_of_life``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EVENT_KINDS",
    "STATUSES",
    "Advisory",
    "Affected",
    "Event",
    "Range",
    "SeverityVector",
]

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
# A finding's status, as trivy names them: "fixed" (a fixed version exists), "affected"
# (no fix yet), "will_not_fix" (Debian <ignored>), "fix_deferred" (Debian <postponed>),
# "end_of_life" (the release is no longer supported for this package).
STATUSES = ("fixed", "affected", "will_not_fix", "fix_deferred", "end_of_life")


@dataclass(frozen=True)
class Event:
    kind: str  # one of EVENT_KINDS
    version: str


@dataclass(frozen=True)
class Range:
    """An OSV range: ``type`` ``ECOSYSTEM`` (the ecosystem's order) or ``SEMVER``
    (SemVer 2.0 whatever the ecosystem); events in the record's order."""

    type: str
    events: tuple[Event, ...]


@dataclass(frozen=True)
class SeverityVector:
    """A severity as the record states it: ``type`` ``CVSS_V3``, ``CVSS_V4``, ``CVSS_V2``
    (or ``Ubuntu``...) and the vector (or value)."""

    type: str
    score: str


@dataclass(frozen=True)
class Affected:
    ecosystem: str  # OSV ecosystem name without the release: "PyPI", "Debian", "Alpine"
    name: str  # the package name as the record has it (Maven "group:artifact")
    release: str = ""  # "12" for "Debian:12", "v3.18" for "Alpine:v3.18"; "" any
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    status: str = "affected"
    # the source's own severity for this package (Debian urgency, GHSA's label...)
    severity: str | None = None
    # RustSec's database_specific.informational ("unmaintained", "unsound", "notice")
    informational: str | None = None
    note: str | None = None  # e.g. "urgency unimportant", "no-dsa: Minor issue"


@dataclass(frozen=True)
class Advisory:
    id: str
    source: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    published: str | None = None
    modified: str | None = None
    severity: tuple[SeverityVector, ...] = ()
    source_severity: str | None = None  # record-level label (GHSA database_specific)
    affected: tuple[Affected, ...] = ()
    url: str | None = None
    # advisories that fixed it without naming the same problem (Debian's DSA/DLA ids):
    # shown, never used to merge findings
    related: tuple[str, ...] = ()
