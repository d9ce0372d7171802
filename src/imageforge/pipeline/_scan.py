"""The scan of what a user named: ``sbom:FILE``, a directory, or an image
anywhere (store, transport, registry), read as :func:`~imageforge.pipeline.sbom` reads
it."""

from __future__ import annotations

from pathlib import Path

from imageforge.oci import Platform
from imageforge.pipeline._lookup import open_image
from imageforge.pipeline._sbom import directory_target, refuse_platform
from imageforge.pipeline._session import Session
from imageforge.scan import (
    ScanCache,
    ScanOptions,
    ScanReport,
    scan_directory,
    scan_image,
    scan_sbom_file,
)
from imageforge.vuln import DbStatus, VulnDB

__all__ = ["SBOM", "scan"]

SBOM = "sbom:"


def scan(
    session: Session,
    target: str,
    db: VulnDB | None,
    options: ScanOptions | None = None,
    *,
    database: DbStatus | None = None,
    platform: Platform | None = None,
    cache: ScanCache | None = None,
) -> ScanReport:
    """Scan ``target``: ``sbom:FILE`` (CycloneDX or SPDX JSON), a directory, or an image
    (a store name or ID, ``oci:``, ``oci-archive:``, ``docker-archive:``,
    ``docker://``; an index's image for ``platform``, see
    :func:`~imageforge.pipeline.image_for_platform`; what ``cache`` read from the same
    image before is used instead of reading it again). ``db`` may be None when
    ``options.scanners`` leaves out vulnerabilities."""
    if target.startswith(SBOM):
        refuse_platform(platform, target, "an SBOM file")
        return scan_sbom_file(Path(target[len(SBOM) :]), db, options, database=database)
    path = directory_target(target, "scan")
    if path is not None:
        refuse_platform(platform, target, "a directory")
        return scan_directory(
            path, db, options, name=target, database=database, progress=session.progress
        )
    with open_image(session, target, platform) as found:
        return scan_image(
            found.image,
            db,
            options,
            name=found.name,
            database=database,
            progress=session.progress,
            cache=cache,
        )
