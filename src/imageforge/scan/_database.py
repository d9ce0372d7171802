"""The database a scan reads: brought up to date first unless ``--offline`` (as trivy
downloads its database when it is older than its next update), then opened read-only.

An update that fails leaves the previous database in use with one warning; with no
database at all the scan stops, saying how to get one. A database older than a day
(:data:`~imageforge.vuln.STALE_AFTER_SECONDS`) is used with a warning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from imageforge.errors import ImageforgeError, NotFound
from imageforge.vuln import DbStatus, UpdateConfig, VulnDB, db_status, update

__all__ = ["age_text", "open_database"]


def age_text(seconds: float | None) -> str:
    """``37 minutes``, ``5.2 hours``, ``3.0 days``."""
    if seconds is None:
        return "of unknown age"
    if seconds < 3600:
        return f"{int(seconds // 60)} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def open_database(
    root: Path,
    *,
    offline: bool,
    warn: Callable[[str], None],
    config: UpdateConfig | None = None,
    now: datetime | None = None,
) -> tuple[VulnDB, DbStatus]:
    """The database under ``root`` and its status, updated first when it is missing or
    stale and ``offline`` is not set."""
    status = db_status(root, now)
    if not offline and (not status.exists or status.stale):
        try:
            update(root, config or UpdateConfig(), warn)
        except ImageforgeError as exc:
            if not status.exists:
                raise NotFound(
                    f"no vulnerability database at {status.path}, and the update failed: "
                    f"{exc.message}",
                    hint="import one (`imageforge vulndb import osv:DIR`) and scan with "
                    "--offline, or point `vulndb update` at a mirror",
                ) from None
            warn(
                f"the vulnerability database could not be updated ({exc.message}); "
                f"scanning with the one of {status.updated_at}"
            )
        status = db_status(root, now)
    if not status.exists:
        raise NotFound(
            f"no vulnerability database at {status.path}",
            hint="run `imageforge vulndb update`, or `imageforge vulndb import osv:DIR|ZIP`",
        )
    if status.stale:
        warn(
            f"the vulnerability database is {age_text(status.age_seconds)} old "
            f"(updated {status.updated_at or 'at an unknown time'}): advisories published "
            "since are missing; run `imageforge vulndb update`"
        )
    return VulnDB(status.path), status
