"""``rescan``: the images of the store scanned again against the current vulnerability
database, reporting only what is new since the last rescan of each image.

Each image (every image of an index) keeps, in the scan cache beside what was read from
it, the database version it was last rescanned with and the vulnerability ids found then
(the part ``rescan/store``; a registry project's rescan keeps ``rescan/HOST/PROJECT``).
An image whose record names the current database is not scanned again (nothing can have
changed); the others are matched again -- from the SBOM the cache kept, so no layer is
read twice -- and the ids not in the record are the new findings. An image rescanned for
the first time has no record: all its findings are new. The gate (severity, CVSS,
unfixed, exit code) is applied to the new findings only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from imageforge.oci import Digest
from imageforge.pipeline._gates import images_of
from imageforge.pipeline._registry_scanner import database_version
from imageforge.pipeline._session import Session
from imageforge.scan import (
    Gate,
    ScanCache,
    ScanOptions,
    ScanReport,
    VulnSection,
    to_sarif_document,
)
from imageforge.transports import TransportRef
from imageforge.vuln import DbStatus, VulnDB

__all__ = [
    "RESCAN_PART",
    "ImageRescan",
    "NewFinding",
    "Rescan",
    "last_rescan",
    "record_rescan",
    "rescan_store",
]

RESCAN_PART = "rescan"  # the scan cache's part kind of an image's last rescan
STORE = "store"  # the key of the store's record (a registry's: HOST/PROJECT)


@dataclass(frozen=True)
class NewFinding:
    """A vulnerability found now and not at the image's last rescan."""

    id: str
    severity: str  # UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL
    package: str
    version: str
    fixed: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "severity": self.severity,
            "package": self.package,
            "version": self.version,
            "fixedVersion": self.fixed,
        }


@dataclass(frozen=True)
class ImageRescan:
    """One image: its ``names``, ``digest``, the database it was last rescanned with
    (None: never), whether it was ``scanned`` now (False: same database), its ``new``
    findings, how many of them fail the gate (``failing``, exiting ``code``), the ids
    ``gone`` since, and its new findings as SARIF runs."""

    names: tuple[str, ...]
    digest: Digest
    previous: str | None
    scanned: bool
    new: tuple[NewFinding, ...] = ()
    failing: int = 0
    code: int = 1
    gone: tuple[str, ...] = ()
    sarif: tuple[dict[str, Any], ...] = ()

    @property
    def exit_code(self) -> int:
        return self.code if self.failing else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "digest": str(self.digest),
            "previousDatabase": self.previous,
            "scanned": self.scanned,
            "new": [f.to_json() for f in self.new],
            "gone": list(self.gone),
            "exitCode": self.exit_code,
        }


@dataclass(frozen=True)
class Rescan:
    """Every image rescanned, and the database version it was matched against (a
    registry's: the one its scanner reported)."""

    database: str
    images: tuple[ImageRescan, ...]

    @property
    def exit_code(self) -> int:
        return max((i.exit_code for i in self.images), default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "images": [i.to_json() for i in self.images],
            "newFindings": sum(len(i.new) for i in self.images),
            "exitCode": self.exit_code,
        }


def last_rescan(
    cache: ScanCache, digest: Digest, where: str = STORE
) -> tuple[str | None, set[str]]:
    """The database version of the image's last rescan ``where`` (the store, or a
    registry's ``HOST/PROJECT``) and the ids found then."""
    found = cache.get_part(str(digest), RESCAN_PART, where)
    if found is None:
        return None, set()
    ids = found.get("ids")
    database = found.get("database")
    if not isinstance(database, str) or not isinstance(ids, list):
        return None, set()
    return database, {str(i) for i in ids}


def record_rescan(
    cache: ScanCache, digest: Digest, database: str, ids: Sequence[str], where: str = STORE
) -> None:
    cache.put_part(str(digest), RESCAN_PART, where, {"database": database, "ids": sorted(ids)})


def _new_only(report: ScanReport, seen: set[str], gate: Gate) -> ScanReport:
    """``report`` narrowed to the findings whose id is not in ``seen``, under ``gate``."""
    new = [
        f
        for f in report.vulnerabilities.findings
        if f.id not in seen and not (gate.ignore_unfixed and not f.fixed_version)
    ]
    results = replace(report.vulnerabilities, findings=new)
    return replace(report, gate=gate, vulnerabilities=results, sections=(VulnSection(results),))


def rescan_store(
    session: Session,
    db: VulnDB,
    status: DbStatus,
    cache: ScanCache,
    gate: Gate,
    options: ScanOptions | None = None,
    *,
    names: Sequence[str] | None = None,
    force: bool = False,
) -> Rescan:
    """Rescan the store's images (those ``names`` point to, default every name) against
    ``db``: each image whose last rescan used another database (or none), or every one
    with ``force``; its new findings reported under ``gate`` and its record replaced."""
    from imageforge.pipeline._lookup import find_in_store
    from imageforge.scan import scan_image

    version = database_version(status)
    by_digest: dict[Digest, list[str]] = {}
    if names is None:
        for entry in session.store.refs.all():
            by_digest.setdefault(entry.digest, []).append(entry.name)
    else:
        for text in names:
            name, digest = find_in_store(session.store, text)
            by_digest.setdefault(digest, []).append(name)
    # the whole report is kept: the gate is applied to what is new
    base = replace(options or ScanOptions(), gate=Gate())
    out: list[ImageRescan] = []
    for top, tops in by_digest.items():
        with session.opened(TransportRef("store", tops[0])) as obj:
            for image in images_of(obj):
                shown = (
                    tuple(tops)
                    if image.digest == top
                    else tuple(f"{n}@{image.digest}" for n in tops)
                )
                previous, seen = last_rescan(cache, image.digest)
                if previous == version and not force:
                    out.append(ImageRescan(shown, image.digest, previous, False))
                    continue
                report = scan_image(
                    image,
                    db,
                    base,
                    name=shown[0],
                    database=status,
                    progress=session.progress,
                    cache=cache,
                )
                ids = {f.id for f in report.vulnerabilities.findings}
                record_rescan(cache, image.digest, version, list(ids))
                new = _new_only(report, seen, gate)
                out.append(
                    ImageRescan(
                        shown,
                        image.digest,
                        previous,
                        True,
                        tuple(
                            NewFinding(
                                f.id,
                                f.severity,
                                f.package.name,
                                f.package.version,
                                f.fixed_version or "",
                            )
                            for f in new.vulnerabilities.findings
                        ),
                        new.failing(),
                        gate.code,
                        tuple(sorted(seen - ids)),
                        tuple(to_sarif_document(new)["runs"])
                        if new.vulnerabilities.findings
                        else (),
                    )
                )
    return Rescan(version, tuple(out))
