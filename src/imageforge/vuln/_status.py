"""``vulndb status``: what the database holds, from where, and how old it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imageforge.vuln._db import SourceStatus, VulnDB, db_path

__all__ = ["STALE_AFTER_SECONDS", "DbStatus", "db_status"]

STALE_AFTER_SECONDS = 24 * 3600  # trivy warns past a day too


@dataclass(frozen=True)
class DbStatus:
    path: Path
    exists: bool
    size: int
    updated_at: str | None
    age_seconds: float | None
    stale: bool
    sources: tuple[SourceStatus, ...]

    @property
    def advisories(self) -> int:
        return sum(s.advisories for s in self.sources)


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    try:
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return max(0.0, (now - when).total_seconds())


def db_status(root: Path, now: datetime | None = None) -> DbStatus:
    path = db_path(root)
    now = now or datetime.now(UTC)
    if not path.is_file():
        return DbStatus(path, False, 0, None, None, True, ())
    with VulnDB(path) as db:
        updated = db.meta("updated_at")
        sources = tuple(db.sources())
    age = _age(updated, now)
    return DbStatus(
        path,
        True,
        path.stat().st_size,
        updated,
        age,
        age is None or age > STALE_AFTER_SECONDS,
        sources,
    )
