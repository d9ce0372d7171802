"""Names for content: ``name:tag`` -> manifest or index digest, in SQLite.

SQLite gives atomic updates and safe concurrent readers/writers across processes (WAL
mode, a busy timeout); every operation opens its own short connection.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import NotFound, Unavailable
from imageforge.oci import Digest

__all__ = ["RefEntry", "RefStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_digest ON refs(digest);
"""


@dataclass(frozen=True)
class RefEntry:
    name: str
    digest: Digest
    media_type: str
    updated: float


class RefStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open the store database {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def set(self, name: str, digest: Digest, media_type: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO refs(name, digest, media_type, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET digest=excluded.digest, "
                "media_type=excluded.media_type, updated=excluded.updated",
                (name, str(digest), media_type, time.time()),
            )

    def get(self, name: str) -> RefEntry:
        with self._db() as db:
            row = db.execute(
                "SELECT name, digest, media_type, updated FROM refs WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise NotFound(f"image {name!r} is not in the store")
        return RefEntry(row[0], Digest(row[1]), row[2], row[3])

    def delete(self, name: str) -> RefEntry:
        entry = self.get(name)
        with self._db() as db:
            db.execute("DELETE FROM refs WHERE name = ?", (name,))
        return entry

    def all(self) -> list[RefEntry]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name, digest, media_type, updated FROM refs ORDER BY name"
            ).fetchall()
        return [RefEntry(r[0], Digest(r[1]), r[2], r[3]) for r in rows]

    def names_for(self, digest: Digest) -> list[str]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name FROM refs WHERE digest = ? ORDER BY name", (str(digest),)
            ).fetchall()
        return [r[0] for r in rows]
