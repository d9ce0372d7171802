"""Matching packages against the database: which advisories affect each package, at
which fixed version, merged so one problem is one finding.

For each package (see :mod:`._ecosystems` for what it is looked up as), every affected
entry of its ecosystem and name is read; an advisory's entries for the package's
release are used, else its entries for any release (``""``: the Debian tracker's sid
line, which releases without their own line inherit). An entry is evaluated as the OSV
specification says: each range's events sorted in the ecosystem's order (``SEMVER``
ranges in SemVer order), a version is affected from an ``introduced`` up to a ``fixed``
(exclusive) or ``last_affected`` (inclusive); ``limit`` events cap the range (versions at
or above every limit are not affected); an explicit ``versions`` list adds versions.

The fixed version of a finding is the smallest ``fixed`` event above the installed
version in a range that affects it; when several advisories (sources) are merged into one
finding, the highest of their fixed versions is given (the one every source agrees
fixes it). Advisories are merged when they share an id or alias (GHSA-x, PYSEC-y and
CVE-z of one problem are one row, under the CVE id when there is one).

A language package whose files an OS package owns (Debian's ``python3-requests``
installs ``requests``' metadata) is not matched on its own: its problems are the OS
package's, as the distribution fixes them. Which ones those are is the SBOM's
ownership edges (:func:`imageforge.sbom.ownership`), so an SBOM read back from a file
decides as the image it was made from.

Informational advisories (RustSec ``unmaintained``, ``unsound``, ``notice``) are returned
apart from vulnerabilities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imageforge.sbom import OS_PACKAGE_TYPES, Distro, Package, ownership
from imageforge.vuln._db import AdvisoryRow, VulnDB
from imageforge.vuln._ecosystems import Query, query_for
from imageforge.vuln._model import Affected, Event, Range, SeverityVector
from imageforge.vuln._severity import CvssScore, normalize_label, scores, severity_of
from imageforge.vuln._versions import VersionError, compare, version_key

if TYPE_CHECKING:  # _suppress builds on this module
    from imageforge.vuln._suppress import IgnoreRule

__all__ = [
    "Finding",
    "LayerOrigin",
    "MatchOptions",
    "MatchResult",
    "affected_version",
    "match_packages",
]

_STATUS_ORDER = ("will_not_fix", "fix_deferred", "end_of_life", "affected")


@dataclass(frozen=True)
class MatchOptions:
    """``unimportant``: report Debian issues of urgency ``unimportant`` (default yes, as
    trivy does; their severity is LOW). ``statuses``: the statuses reported (default:
    all of them)."""

    unimportant: bool = True
    statuses: frozenset[str] = frozenset(
        ("fixed", "affected", "will_not_fix", "fix_deferred", "end_of_life")
    )


@dataclass(frozen=True)
class LayerOrigin:
    """The image layer that brought a package in: ``digest`` of the layer blob, its
    ``number`` (1-based, as ``inspect`` lists layers), ``diff_id``, and the history
    entry's ``created_by`` (the Dockerfile instruction that made the layer). An SBOM
    names the digest alone."""

    digest: str
    number: int | None = None
    diff_id: str | None = None
    created_by: str | None = None


@dataclass
class Finding:
    """One problem of one package. ``id`` is the CVE when one is known, ``aliases`` the
    other ids; ``sources`` the advisories merged into it (``source:id``); ``layer`` stays
    None until an image scan says which layer brought the package in."""

    id: str
    aliases: tuple[str, ...]
    package: Package
    query: Query
    severity: str
    cvss: tuple[CvssScore, ...]
    fixed_version: str | None
    status: str
    summary: str
    sources: tuple[str, ...]
    urls: tuple[str, ...] = ()
    related: tuple[str, ...] = ()  # advisories that fixed it (DSA/DLA), not aliases
    informational: str | None = None
    note: str | None = None
    layer: LayerOrigin | None = None
    suppressed: IgnoreRule | None = None  # the rule that hid it (see _suppress)

    @property
    def max_cvss(self) -> float | None:
        """The highest CVSS v3/v4 base score (v2 only when there is nothing newer)."""
        modern = [c.base_score for c in self.cvss if not c.version.startswith("2")]
        values = modern or [c.base_score for c in self.cvss]
        return max(values) if values else None


@dataclass
class MatchResult:
    vulnerabilities: list[Finding] = field(default_factory=list)
    informational: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    owned: list[Package] = field(default_factory=list)  # language packages left to their OS package


def _range_hit(version: str, rng: Range, scheme: str) -> tuple[bool, str | None]:
    """(affected, smallest fix above ``version`` in this range)."""
    sch = "semver" if rng.type == "SEMVER" else scheme
    v = version_key(sch, version)
    limits = [e for e in rng.events if e.kind == "limit"]
    if limits and not any(e.version == "*" or v < version_key(sch, e.version) for e in limits):
        return False, None
    events: list[tuple[int, Any, Event]] = []  # key None: introduced at the beginning
    for e in rng.events:
        if e.kind == "limit":
            continue
        if e.kind == "introduced" and e.version == "0":
            events.append((0, None, e))
        else:
            events.append((1, version_key(sch, e.version), e))
    events.sort(key=lambda t: (t[0], t[1]) if t[1] is not None else (t[0], 0))
    affected = False
    for _, key, e in events:
        if e.kind == "introduced":
            if key is None or v >= key:
                affected = True
        elif e.kind == "fixed":
            if v >= key:
                affected = False
        elif e.kind == "last_affected":
            if v > key:
                affected = False
    if not affected:
        return False, None
    fixes = [(key, e.version) for _, key, e in events if e.kind == "fixed" and key > v]
    return True, (min(fixes)[1] if fixes else None)


def affected_version(version: str, entry: Affected, scheme: str) -> tuple[bool, str | None]:
    """Whether ``version`` is affected by ``entry`` and the smallest fix above it."""
    hit = False
    fixes: list[tuple[Any, str]] = []
    for rng in entry.ranges:
        affected, fix = _range_hit(version, rng, scheme)
        if affected:
            hit = True
            if fix is not None:
                fixes.append((version_key("semver" if rng.type == "SEMVER" else scheme, fix), fix))
    if not hit and entry.versions:
        for listed in entry.versions:
            try:
                if listed == version or compare(scheme, listed, version) == 0:
                    hit = True
                    break
            except VersionError:
                continue
    return hit, (min(fixes)[1] if fixes else None)


@dataclass
class _Hit:
    row: AdvisoryRow
    fixed: str | None
    status: str


def _applicable(rows: list[AdvisoryRow], release: str) -> dict[tuple[str, str], list[AdvisoryRow]]:
    groups: dict[tuple[str, str], list[AdvisoryRow]] = {}
    for row in rows:
        groups.setdefault((row.source, row.id), []).append(row)
    out = {}
    for key, group in groups.items():
        own = [r for r in group if r.affected.release == release]
        out[key] = own or [r for r in group if r.affected.release == ""]
    return out


def _hits(
    pkg: Package, q: Query, rows: list[AdvisoryRow], options: MatchOptions, warnings: list[str]
) -> list[_Hit]:
    hits: list[_Hit] = []
    for (source, adv_id), group in sorted(_applicable(rows, q.release).items()):
        for row in group:
            entry = row.affected
            if entry.status == "not_affected":
                continue
            if not options.unimportant and (entry.note or "").startswith("urgency unimportant"):
                continue
            try:
                hit, fixed = affected_version(q.version, entry, q.scheme)
            except VersionError as exc:
                warnings.append(f"{pkg.name} {pkg.version}: {adv_id} ({source}) not checked: {exc}")
                continue
            if not hit:
                continue
            status = "fixed" if fixed else ("affected" if entry.status == "fixed" else entry.status)
            if status not in options.statuses:
                continue
            hits.append(_Hit(row, fixed, status))
    return hits


def _merge(hits: list[_Hit]) -> list[list[_Hit]]:
    """Group hits that share an id or alias (union-find over the ids)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for hit in hits:
        ids = [hit.row.id, *hit.row.aliases]
        for other in ids[1:]:
            ra, rb = find(ids[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[_Hit]] = {}
    for hit in hits:
        groups.setdefault(find(hit.row.id), []).append(hit)
    return list(groups.values())


def _primary(ids: Iterable[str]) -> str:
    ordered = sorted(set(ids))
    cves = [i for i in ordered if i.startswith("CVE-")]
    return cves[0] if cves else ordered[0]


def _finding(pkg: Package, q: Query, group: list[_Hit], warnings: list[str]) -> Finding:
    ids: list[str] = []
    vectors: dict[str, SeverityVector] = {}
    labels: list[str] = []
    for hit in group:
        ids += [hit.row.id, *hit.row.aliases]
        for vec in hit.row.severity:
            vectors.setdefault(vec.score, vec)
        for label in (hit.row.source_severity, hit.row.affected.severity):
            if label and normalize_label(label):
                labels.append(label)
    cvss, bad = scores(tuple(vectors.values()))
    for message in bad:
        warnings.append(f"{group[0].row.id}: {message}")
    primary = _primary(ids)
    fixes = [(version_key(q.scheme, h.fixed), h.fixed) for h in group if h.fixed]
    fixed = max(fixes)[1] if fixes else None
    if fixed:
        status = "fixed"
    else:
        statuses = {h.status for h in group}
        status = next((s for s in _STATUS_ORDER if s in statuses), "affected")
    informational = next(
        (h.row.affected.informational for h in group if h.row.affected.informational), None
    )
    if any(h.row.affected.informational is None for h in group):
        informational = None
    notes = [h.row.affected.note for h in group if h.row.affected.note]
    summary = next((h.row.summary for h in group if h.row.summary), "")
    return Finding(
        id=primary,
        aliases=tuple(sorted(set(ids) - {primary})),
        package=pkg,
        query=q,
        severity=severity_of(cvss, labels[0] if labels else None),
        cvss=tuple(sorted(cvss, key=lambda c: c.version, reverse=True)),
        fixed_version=fixed,
        status=status,
        summary=summary,
        sources=tuple(sorted({f"{h.row.source}:{h.row.id}" for h in group})),
        urls=tuple(dict.fromkeys(h.row.url for h in group if h.row.url)),
        related=tuple(sorted({r for h in group for r in h.row.related})),
        informational=informational,
        note="; ".join(dict.fromkeys(notes)) or None,
    )


def match_packages(
    packages: Sequence[Package],
    db: VulnDB,
    distro: Distro | None,
    options: MatchOptions | None = None,
    owners: Mapping[str, str] | None = None,
) -> MatchResult:
    """Findings for ``packages`` (an SBOM's) in ``db``; the distro decides the
    release of OS packages. ``owners`` (package id -> OS package id, the SBOM's
    ownership edges; default: worked out from the OS packages' file lists) names the
    language packages left to their OS package. Sorted by package, then id."""
    options = options or MatchOptions()
    result = MatchResult()
    if owners is None:
        owners = {r.child: r.parent for r in ownership(packages)}
    cache: dict[tuple[str, str], list[AdvisoryRow]] = {}
    for pkg in packages:
        if pkg.type not in OS_PACKAGE_TYPES and pkg.id in owners:
            result.owned.append(pkg)
            continue
        q = query_for(pkg, distro)
        if q is None:
            continue
        try:
            version_key(q.scheme, q.version)
        except VersionError as exc:
            result.warnings.append(f"{pkg.name} {pkg.version} ({pkg.type}): not checked: {exc}")
            continue
        key = (q.ecosystem, q.name)
        if key not in cache:
            cache[key] = db.lookup(q.ecosystem, q.name)
        hits = _hits(pkg, q, cache[key], options, result.warnings)
        for group in _merge(hits):
            finding = _finding(pkg, q, group, result.warnings)
            (result.informational if finding.informational else result.vulnerabilities).append(
                finding
            )
    order = lambda f: (f.package.name, f.package.version, f.package.type, f.id)  # noqa: E731
    result.vulnerabilities.sort(key=order)
    result.informational.sort(key=order)
    return result
