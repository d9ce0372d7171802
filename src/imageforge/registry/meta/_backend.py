"""The few things SQLite and PostgreSQL do differently, behind one small interface.

The queries in ``_sql`` are written once, in the SQL both databases accept (``?``
placeholders, ``INSERT ... ON CONFLICT``, a quoted ``"user"`` column); a backend opens
connections, rewrites placeholders for its driver, adapts the schema's column types and
starts the two kinds of transaction:

- a *write* transaction: one writer at a time across every process sharing the
  database. SQLite's ``BEGIN IMMEDIATE`` does that; on PostgreSQL a transaction-scoped
  advisory lock does (so garbage collection and pushes keep SQLite's ordering: each
  sees the other's committed rows, never a half);
- a *snapshot* read: several SELECTs seeing one consistent state (``BEGIN`` in WAL
  mode; ``REPEATABLE READ`` on PostgreSQL).

PostgreSQL goes through psycopg 3; text columns use the "C" collation there so tags
and repositories sort byte-wise, as they do in SQLite.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from imageforge.errors import InvalidArgument, Unavailable

__all__ = ["Backend", "Cursor", "Db", "open_backend", "redact_url"]

# Any constant will do: every imageforge write transaction takes this one lock.
_WRITE_LOCK = 0x1F0_4E7A


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db:
    """One connection, taking the ``?`` placeholders the queries are written with.
    Errors of the ``lost`` kinds (the server went away) surface as Unavailable."""

    def __init__(
        self, raw: Any, pyformat: bool, lost: tuple[type[Exception], ...] = (), where: str = ""
    ) -> None:
        self.raw = raw
        self._pyformat = pyformat
        self._lost = lost
        self._where = where

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pyformat else sql

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        _no_nul(args)
        try:
            cur: Cursor = self.raw.execute(self._sql(sql), tuple(args))
        except self._lost as exc:
            raise Unavailable(
                f"metadata database {self._where}: {str(exc).strip()}", hint="retry"
            ) from None
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        for r in rows:
            _no_nul(r)
        try:
            if self._pyformat:
                with self.raw.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)
            else:
                self.raw.executemany(sql, rows)
        except self._lost as exc:
            raise Unavailable(
                f"metadata database {self._where}: {str(exc).strip()}", hint="retry"
            ) from None

    def usable(self) -> bool:
        return not bool(getattr(self.raw, "closed", False))


def _no_nul(args: Sequence[object]) -> None:
    # PostgreSQL text cannot hold NUL; SQLite could, but no name or tag has one, so both
    # refuse it alike: a clear InvalidArgument (400 at the API), never a driver error.
    for a in args:
        if isinstance(a, str) and "\x00" in a:
            raise InvalidArgument(f"text with a NUL character: {a!r}")


class Backend:
    """Opens per-thread connections to one database; :meth:`close` closes them all."""

    name = ""
    serial = ""  # the audit table's id column

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Db] = []
        self._lock = threading.Lock()

    def conn(self) -> Db:
        """This thread's connection; a new one if the last was lost (a database restart
        costs the requests in flight, not the process)."""
        db: Db | None = getattr(self._local, "db", None)
        if db is not None and not db.usable():
            with self._lock:
                if db in self._all:
                    self._all.remove(db)
            db.raw.close()
            db = None
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            dbs, self._all = self._all, []
        for db in dbs:
            db.raw.close()
        self._local = threading.local()

    def _connect(self) -> Db:
        raise NotImplementedError

    def schema(self, sql: str) -> str:
        return sql.replace("{serial}", self.serial)

    def prepare(self, db: Db) -> None:
        """Migrations that must run before the schema (none by default)."""

    def begin_write(self, db: Db) -> None:
        raise NotImplementedError

    def begin_snapshot(self, db: Db) -> None:
        db.execute("BEGIN")


class SqliteBackend(Backend):
    name = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file (and so its -wal and -shm, which SQLite gives the same mode) is the
        # registry user's alone: it holds password hashes and the audit log.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))

    def __str__(self) -> str:
        return str(self.path)

    def _connect(self) -> Db:
        # Each thread uses its own connection; check_same_thread=False only lets
        # close() shut them all from one thread.
        raw = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=FULL")
        return Db(raw, pyformat=False)

    def prepare(self, db: Db) -> None:
        # A database from before link times gets its column first (old links count as
        # ancient: garbage collection may take them).
        columns = [r[1] for r in db.execute("PRAGMA table_info(blob_links)").fetchall()]
        if columns and "linked" not in columns:
            db.execute("ALTER TABLE blob_links ADD COLUMN linked REAL NOT NULL DEFAULT 0")

    def begin_write(self, db: Db) -> None:
        db.execute("BEGIN IMMEDIATE")


class PostgresBackend(Backend):
    name = "postgresql"
    serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def __str__(self) -> str:
        return redact_url(self.url)

    def _connect(self) -> Db:
        import psycopg  # only a PostgreSQL registry needs the driver

        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise Unavailable(
                f"cannot connect to PostgreSQL at {self}: {str(exc).strip()}",
                hint="check the --db URL, that the server runs and accepts this user",
            ) from None
        return Db(raw, pyformat=True, lost=(psycopg.OperationalError,), where=str(self))

    def schema(self, sql: str) -> str:
        return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', super().schema(sql))

    def begin_write(self, db: Db) -> None:
        db.execute("BEGIN")
        db.execute("SELECT pg_advisory_xact_lock(?)", (_WRITE_LOCK,))

    def begin_snapshot(self, db: Db) -> None:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")


def redact_url(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


def open_backend(location: Path | str) -> Backend:
    """A ``postgresql://`` (or ``postgres://``) URL, or the path of a SQLite file."""
    if isinstance(location, str) and "://" in location:
        scheme = location.split("://", 1)[0].lower()
        if scheme in ("postgresql", "postgres"):
            return PostgresBackend(location)
        raise InvalidArgument(
            f"unsupported metadata database {redact_url(location)!r}",
            hint="use postgresql://USER:PASSWORD@HOST/DB, or leave it out for SQLite",
        )
    return SqliteBackend(Path(location))
