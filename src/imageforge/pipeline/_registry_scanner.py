"""The scanner ``registry serve`` gives its scan queue: it reads an image manifest from
the registry's own storage (every read verified against its digest) and scans it as
``imageforge scan`` does, against the vulnerability database of the store root, never
updating it (``vulndb update`` on a schedule does that; a new database version queues
every scanned image again)."""

from __future__ import annotations

from pathlib import Path

from imageforge.errors import ImageforgeError
from imageforge.layers import BlobImage, read_verified
from imageforge.oci import Digest
from imageforge.registry.meta import Finding, ScanResult
from imageforge.scan import ScanOptions, scan_image
from imageforge.store import BlobReader
from imageforge.vuln import DbStatus, VulnDB, db_status

__all__ = ["RegistryScanner", "database_version"]


def database_version(status: DbStatus) -> str:
    """The database's update time and file identity: ``vulndb update`` and ``vulndb
    import`` swap in a new file, which changes it. ``none`` without one. A scan result
    made with one version is good for as long as the database has it."""
    if not status.exists:
        return "none"
    try:
        st = status.path.stat()
    except OSError:
        return "none"
    return f"{status.updated_at or 'unknown'}/{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"


class RegistryScanner:
    """Scans the manifests of ``storage`` against the database under ``root``."""

    def __init__(self, storage: BlobReader, root: Path) -> None:
        self.storage = storage
        self.root = root

    def version(self) -> str:
        """:func:`database_version` of the database under the store root."""
        return database_version(db_status(self.root))

    def scan(self, digest: Digest) -> ScanResult:
        version = self.version()
        status = db_status(self.root)
        if not status.exists:
            return ScanResult(
                "failed",
                version,
                message=f"no vulnerability database at {status.path} (run imageforge vulndb"
                " update on the registry's host)",
            )
        try:
            raw = read_verified(self.storage.open, digest, "manifest")
            image = BlobImage(self.storage.open, raw, validate=False)
            db = VulnDB.open(self.root)
            try:
                report = scan_image(image, db, ScanOptions(), name=str(digest), database=status)
            finally:
                db.close()
        except ImageforgeError as exc:
            return ScanResult("failed", version, message=exc.message)
        findings = tuple(
            Finding(
                f.id,
                f.package.name,
                f.package.version,
                f.severity.lower(),
                f.fixed_version or "",
                tuple(f.aliases),
            )
            for f in report.vulnerabilities.findings
        )
        return ScanResult("success", version, findings)
