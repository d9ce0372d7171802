"""The vulnerability database: one SQLite file under the store root
(``<root>/vulndb/vuln.db``), written only by building a new file beside it and renaming
it over the old one, so a reader (a scan) always sees a whole database and a failed
import or update leaves the previous one in use.

Each import names its *source* (``osv:/data/pypa``, ``osv.dev:PyPI``,
``debian-tracker:/srv/tracker``): the source's previous records are replaced by the new
ones, other sources' records are kept. Writers take an exclusive lock
(``vulndb/lock``); readers need none.

Tables: ``sources`` (name, kind, location, import time, ETag/Last-Modified of a download,
counts), ``advisories`` (one row per source and id), ``affected`` (one row per advisory,
package and release; ranges and versions as JSON), ``meta`` (schema version)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imageforge.errors import InvalidArgument, NotFound, Unavailable
from imageforge.store import FileLock, fsync_dir
from imageforge.vuln._ecosystems import name_key
from imageforge.vuln._model import Advisory, Affected, Event, Range, SeverityVector

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "VULNDB_DIR",
    "AdvisoryRow",
    "SourceBatch",
    "SourceStatus",
    "VulnDB",
    "db_path",
    "write_sources",
]

VULNDB_DIR = "vulndb"  # under the store root
DB_NAME = "vuln.db"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources(
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, location TEXT NOT NULL,
    imported_at TEXT NOT NULL, etag TEXT, last_modified TEXT,
    advisories INTEGER NOT NULL, affected INTEGER NOT NULL, warnings INTEGER NOT NULL);
CREATE TABLE advisories(
    rid INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, aliases TEXT NOT NULL,
    summary TEXT NOT NULL, published TEXT, modified TEXT, severity TEXT NOT NULL,
    source_severity TEXT, url TEXT, related TEXT NOT NULL, UNIQUE(source, id));
CREATE TABLE affected(
    rid INTEGER NOT NULL REFERENCES advisories(rid) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL, name_key TEXT NOT NULL, name TEXT NOT NULL,
    release TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL,
    status TEXT NOT NULL, severity TEXT, informational TEXT, note TEXT);
CREATE INDEX affected_package ON affected(ecosystem, name_key);
CREATE INDEX affected_rid ON affected(rid);
CREATE INDEX advisories_source ON advisories(source);
"""


def db_path(root: Path) -> Path:
    return Path(root) / VULNDB_DIR / DB_NAME


@dataclass
class SourceBatch:
    """What one source contributes to a write: its advisories (read lazily), and, for a
    download, the validators of the response (``keep``: the server said 304, the
    source's rows stay as they are)."""

    name: str
    kind: str
    location: str
    advisories: Iterable[Advisory]
    etag: str | None = None
    last_modified: str | None = None
    keep: bool = False
    warnings: int = 0


@dataclass(frozen=True)
class SourceStatus:
    name: str
    kind: str
    location: str
    imported_at: str
    etag: str | None
    last_modified: str | None
    advisories: int
    affected: int
    warnings: int


@dataclass(frozen=True)
class AdvisoryRow:
    """An advisory header with one of its affected entries, as a lookup returns it."""

    source: str
    id: str
    aliases: tuple[str, ...]
    summary: str
    published: str | None
    modified: str | None
    severity: tuple[SeverityVector, ...]
    source_severity: str | None
    url: str | None
    related: tuple[str, ...]
    affected: Affected


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ranges_json(ranges: tuple[Range, ...]) -> str:
    return json.dumps([[r.type, [[e.kind, e.version] for e in r.events]] for r in ranges])


def _ranges_from(text: str) -> tuple[Range, ...]:
    return tuple(Range(t, tuple(Event(k, v) for k, v in events)) for t, events in json.loads(text))


def _insert(
    conn: sqlite3.Connection, advisories: Iterable[Advisory], source: str
) -> tuple[int, int]:
    n_adv = n_aff = 0
    seen: dict[str, int] = {}
    for adv in advisories:
        if adv.id in seen:  # the same id twice in one source: the later record wins
            conn.execute("DELETE FROM affected WHERE rid = ?", (seen[adv.id],))
            conn.execute("DELETE FROM advisories WHERE rid = ?", (seen[adv.id],))
            n_adv -= 1
        cur = conn.execute(
            "INSERT INTO advisories(source, id, aliases, summary, published, modified, severity,"
            " source_severity, url, related) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                source,
                adv.id,
                json.dumps(list(adv.aliases)),
                adv.summary,
                adv.published,
                adv.modified,
                json.dumps([[s.type, s.score] for s in adv.severity]),
                adv.source_severity,
                adv.url,
                json.dumps(list(adv.related)),
            ),
        )
        rid = cur.lastrowid
        assert rid is not None
        seen[adv.id] = rid
        n_adv += 1
        rows = [
            (
                rid,
                a.ecosystem,
                name_key(a.ecosystem, a.name),
                a.name,
                a.release,
                _ranges_json(a.ranges),
                json.dumps(list(a.versions)),
                a.status,
                a.severity,
                a.informational,
                a.note,
            )
            for a in adv.affected
        ]
        conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        n_aff += len(rows)
    return n_adv, n_aff


def write_sources(root: Path, batches: list[SourceBatch]) -> list[SourceStatus]:
    """Replace the records of each batch's source, in a new database file beside the
    current one (a copy of it), renamed over it when every batch is in. Any exception
    leaves the current database as it was."""
    final = db_path(root)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(final.parent / "lock")
    with lock.exclusive(what="the vulnerability database"):
        tmp = final.with_name(f".{DB_NAME}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            with closing(sqlite3.connect(tmp)) as conn:
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA synchronous = OFF")
                if final.exists():
                    with closing(sqlite3.connect(f"file:{final}?mode=ro", uri=True)) as old:
                        old.backup(conn)
                    _check_schema(conn, final)
                else:
                    conn.executescript(_SCHEMA)
                    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                conn.execute("PRAGMA foreign_keys = ON")
                statuses = []
                with conn:
                    for batch in batches:
                        statuses.append(_write_batch(conn, batch))
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('updated_at', ?)", (_now(),))
                if _should_vacuum(conn):
                    conn.execute("VACUUM")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
    return statuses


def _should_vacuum(conn: sqlite3.Connection) -> bool:
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    total = conn.execute("PRAGMA page_count").fetchone()[0]
    return bool(total) and free / total > 0.25


def _write_batch(conn: sqlite3.Connection, batch: SourceBatch) -> SourceStatus:
    if batch.keep:
        row = conn.execute("SELECT * FROM sources WHERE name = ?", (batch.name,)).fetchone()
        if row is not None:
            conn.execute("UPDATE sources SET imported_at = ? WHERE name = ?", (_now(), batch.name))
            return SourceStatus(
                row[0], row[1], row[2], _now(), row[4], row[5], row[6], row[7], row[8]
            )
    conn.execute(
        "DELETE FROM affected WHERE rid IN (SELECT rid FROM advisories WHERE source = ?)",
        (batch.name,),
    )
    conn.execute("DELETE FROM advisories WHERE source = ?", (batch.name,))
    n_adv, n_aff = _insert(conn, batch.advisories, batch.name)
    status = SourceStatus(
        batch.name,
        batch.kind,
        batch.location,
        _now(),
        batch.etag,
        batch.last_modified,
        n_adv,
        n_aff,
        batch.warnings,
    )
    conn.execute(
        "INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?,?,?)",
        (
            status.name,
            status.kind,
            status.location,
            status.imported_at,
            status.etag,
            status.last_modified,
            status.advisories,
            status.affected,
            status.warnings,
        ),
    )
    return status


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None or row[0] != SCHEMA_VERSION:
        raise InvalidArgument(
            f"{path} is not a vulnerability database of this imageforge "
            f"(schema {row[0] if row else '?'})",
            hint="remove it and run `imageforge vulndb update` (or import) again",
        )


class VulnDB:
    """A read-only view of the database file as it was when opened (a later swap
    does not disturb it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise NotFound(
                f"no vulnerability database at {path}",
                hint="run `imageforge vulndb update`, or `imageforge vulndb import osv:DIR|ZIP`",
            )
        try:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            _check_schema(self._conn, path)
        except sqlite3.DatabaseError as exc:
            raise Unavailable(
                f"{path} cannot be read as a vulnerability database: {exc}",
                hint="run `imageforge vulndb update` to rebuild it",
            ) from None

    @classmethod
    def open(cls, root: Path) -> VulnDB:
        return cls(db_path(root))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, ecosystem: str, name: str) -> list[AdvisoryRow]:
        """Every affected entry naming ``name`` in ``ecosystem`` (any release), with
        its advisory."""
        rows = self._conn.execute(
            "SELECT a.source, a.id, a.aliases, a.summary, a.published, a.modified, a.severity,"
            " a.source_severity, a.url, a.related, f.ecosystem, f.name, f.release, f.ranges,"
            " f.versions,"
            " f.status, f.severity, f.informational, f.note"
            " FROM affected f JOIN advisories a ON a.rid = f.rid"
            " WHERE f.ecosystem = ? AND f.name_key = ? ORDER BY a.source, a.id",
            (ecosystem, name_key(ecosystem, name)),
        ).fetchall()
        return [
            AdvisoryRow(
                source=r[0],
                id=r[1],
                aliases=tuple(json.loads(r[2])),
                summary=r[3],
                published=r[4],
                modified=r[5],
                severity=tuple(SeverityVector(t, s) for t, s in json.loads(r[6])),
                source_severity=r[7],
                url=r[8],
                related=tuple(json.loads(r[9])),
                affected=Affected(
                    ecosystem=r[10],
                    name=r[11],
                    release=r[12],
                    ranges=_ranges_from(r[13]),
                    versions=tuple(json.loads(r[14])),
                    status=r[15],
                    severity=r[16],
                    informational=r[17],
                    note=r[18],
                ),
            )
            for r in rows
        ]

    def sources(self) -> list[SourceStatus]:
        return [SourceStatus(*r) for r in self._conn.execute("SELECT * FROM sources ORDER BY name")]

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def advisory_ids(self) -> Iterator[tuple[str, str]]:
        yield from self._conn.execute("SELECT source, id FROM advisories ORDER BY source, id")
