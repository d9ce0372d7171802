"""Upgrade advice, the guide's "avoid it by pinning a version": for each finding the
version to move to (``upgrade requests 2.19.1 -> 2.20.0``), and for each package the one
version that fixes every problem that has a fix.

A finding's fixed version is the smallest one above the installed version in the range
that affects it (see :mod:`._match`). A package's upgrade is the highest of its
findings' fixed versions: every finding is fixed at or below it on the line its range
follows. A Debian binary package matched through its source package is upgraded by a
build of the fixed *source* version, which the advice says when the two differ (a
binNMU, or a binary versioned apart from its source); a Go binary's standard library by
rebuilding the binary with that Go release."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from imageforge.sbom import Package
from imageforge.vuln._ecosystems import Query
from imageforge.vuln._match import Finding
from imageforge.vuln._versions import version_key

__all__ = ["Upgrade", "advice", "upgrades"]


def _target(pkg: Package, q: Query, fixed: str) -> str:
    if q.name == "stdlib" and q.ecosystem == "Go":
        return f"upgrade Go stdlib {pkg.version} -> {fixed} (rebuild the binary with Go {fixed})"
    if q.via and q.version != pkg.version:
        return (
            f"upgrade {pkg.name} {pkg.version} (source {q.name} {q.version}) "
            f"-> a build of {q.name} {fixed}"
        )
    return f"upgrade {pkg.name} {pkg.version} -> {fixed}"


def advice(finding: Finding) -> str | None:
    """What to do about ``finding``; None when there is no fixed version yet."""
    if not finding.fixed_version:
        return None
    return _target(finding.package, finding.query, finding.fixed_version)


@dataclass(frozen=True)
class Upgrade:
    """One package's way out: ``to`` fixes ``fixes``; ``unfixed`` have no fix yet."""

    package: Package
    query: Query
    to: str | None
    fixes: tuple[str, ...]
    unfixed: tuple[str, ...]

    @property
    def advice(self) -> str | None:
        return None if self.to is None else _target(self.package, self.query, self.to)


def upgrades(findings: Iterable[Finding]) -> list[Upgrade]:
    """One :class:`Upgrade` per package with findings, in the findings' order."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.package.id, []).append(f)
    out = []
    for group in groups.values():
        first = group[0]
        fixed = [f for f in group if f.fixed_version]
        to = None
        if fixed:
            best = max(fixed, key=lambda f: version_key(f.query.scheme, f.fixed_version or ""))
            to = best.fixed_version
        out.append(
            Upgrade(
                first.package,
                first.query,
                to,
                tuple(f.id for f in fixed),
                tuple(f.id for f in group if not f.fixed_version),
            )
        )
    return out
