"""``rescan``: the images of the store scanned again against the current vulnerability
database, reporting only what is new since the last rescan of each image.

Each image (every image of an index) keeps, in the scan cache beside what was read from
it, the database version it was last rescanned with and the vulnerability ids found then
(the part ``rescan/last``). An image whose record names the current database is not
scanned again (nothing can have changed); the others are matched again -- from the SBOM
the cache kept, so no layer is read twice -- and the ids not in the record are the new
findings. An image rescanned for the first time has no record: all its findings are new.
The gate (severity, CVSS, unfixed, exit code) is applied to the new findings only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from imageforge.oci import Digest
from imageforge.pipeline._gates import images_of
from imageforge.pipeline._registry_scanner import database_version
from imageforge.pipeline._session import Session
from imageforge.scan import Gate, ScanCache, ScanOptions, ScanReport, VulnSection
from imageforge.transports import TransportRef
from imageforge.vuln import DbStatus, VulnDB

__all__ = ["RESCAN_PART", "ImageRescan", "Rescan", "rescan_store"]

RESCAN_PART = "rescan"  # the scan cache's part kind of an image's last rescan


@dataclass(frozen=True)
class ImageRescan:
    """One image: its store ``names``, ``digest``, the database it was last rescanned
    with (None: never), whether it was ``scanned`` now (False: same database), the
    ``report`` of its new findings (None when not scanned) and the ids ``gone`` since."""

    names: tuple[str, ...]
    digest: Digest
    previous: str | None
    scanned: bool
    report: ScanReport | None
    gone: tuple[str, ...]

    @property
    def new(self) -> int:
        return len(self.report.vulnerabilities.findings) if self.report else 0

    @property
    def exit_code(self) -> int:
        return self.report.exit_code if self.report else 0

    def to_json(self) -> dict[str, Any]:
        section = VulnSection(self.report.vulnerabilities) if self.report else None
        return {
            "names": list(self.names),
            "digest": str(self.digest),
            "previousDatabase": self.previous,
            "scanned": self.scanned,
            "new": section.to_json() if section else [],
            "gone": list(self.gone),
            "exitCode": self.exit_code,
        }


@dataclass(frozen=True)
class Rescan:
    """Every image of the store, and the database version it was matched against."""

    database: str
    images: tuple[ImageRescan, ...]

    @property
    def exit_code(self) -> int:
        return max((i.exit_code for i in self.images), default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "images": [i.to_json() for i in self.images],
            "newFindings": sum(i.new for i in self.images),
            "exitCode": self.exit_code,
        }


def _record(cache: ScanCache, digest: Digest) -> tuple[str | None, set[str]]:
    found = cache.get_part(str(digest), RESCAN_PART, "last")
    if found is None:
        return None, set()
    ids = found.get("ids")
    database = found.get("database")
    if not isinstance(database, str) or not isinstance(ids, list):
        return None, set()
    return database, {str(i) for i in ids}


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
                previous, seen = _record(cache, image.digest)
                if previous == version and not force:
                    out.append(ImageRescan(shown, image.digest, previous, False, None, ()))
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
                ids = sorted({f.id for f in report.vulnerabilities.findings})
                gone = tuple(sorted(seen - set(ids)))
                cache.put_part(
                    str(image.digest), RESCAN_PART, "last", {"database": version, "ids": ids}
                )
                out.append(
                    ImageRescan(
                        shown, image.digest, previous, True, _new_only(report, seen, gate), gone
                    )
                )
    return Rescan(version, tuple(out))
