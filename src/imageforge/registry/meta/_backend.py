"""The few things SQLite and PostgreSQL do differently, behind one small interface.

The queries in ``_sql`` are written once, in the SQL both databases accept (``?``
placeholders, ``INSERT ... ON CONFLICT``, a quoted ``"user"`` column); a backend opens
connections, rewrites placeholders for its driver, adapts the schema's column types and
starts the two kinds of transaction:

- a *write* transaction: one writer at a time across every process sharing the
  database. SQLite's ``BEGIN IMMEDIATE`` does that; on PostgreSQL a transaction-scoped
  advisory lock does (so garbage collection and pushes keep SQLite's ordering: each
  sees the other's committed rows, never a half). Writes that garbage collection need
  not exclude (appended audit rows, upload-session rows: docs/registry-gc.md) are
  *unlocked* on PostgreSQL: a plain transaction, so every replica's pulls and uploads
  do not queue behind one lock; SQLite has one writer whatever is asked;
- a *snapshot* read: several SELECTs seeing one consistent state (``BEGIN`` in WAL
  mode; ``REPEATABLE READ`` on PostgreSQL).

PostgreSQL goes through psycopg 3 and a bounded ``psycopg_pool`` pool per process
(``PoolSize``): a connection is checked out for one statement or one transaction and
checked (a round trip) before use, so a dead one (a database restart, an idle timeout)
is replaced rather than failing a request, and however many threads serve requests, a
replica holds at most ``size`` connections. SQLite keeps one connection per thread.
Text columns use the "C" collation on PostgreSQL so tags and repositories sort
byte-wise, as they do in SQLite.

A thread that holds a connection (inside a transaction) gets that one again for every
statement it runs until it gives it back, so a read inside a write transaction sees the
transaction's own changes, and a thread never waits on the pool for a second one.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from imageforge.errors import InvalidArgument, Unavailable

__all__ = [
    "Backend",
    "Cursor",
    "Db",
    "Executor",
    "OneShot",
    "PoolSize",
    "open_backend",
    "redact_url",
]

# Any constant will do: every locked imageforge write transaction takes this one lock.
_WRITE_LOCK = 0x1F0_4E7A


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Executor(Protocol):
    """What runs a statement: a :class:`Db` or a :class:`OneShot`."""

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor: ...


@dataclass(frozen=True)
class PoolSize:
    """PostgreSQL connections one process opens at most, and how long a statement waits
    for one of them to be free before it fails as Unavailable."""

    size: int = 10
    timeout: float = 30.0


class _Rows:
    """A statement's result, fetched before its connection went back to the pool."""

    def __init__(self, cur: Cursor) -> None:
        self.rowcount = cur.rowcount
        has_rows = getattr(cur, "description", None) is not None
        self._rows: list[Any] = list(cur.fetchall()) if has_rows else []
        self._next = 0

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest, self._next = self._rows[self._next :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


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
        # psycopg reads every % as a placeholder: a literal one (LIKE '%/%') doubled
        return sql.replace("%", "%%").replace("?", "%s") if self._pyformat else sql

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


def _no_nul(args: Sequence[object]) -> None:
    # PostgreSQL text cannot hold NUL; SQLite could, but no name or tag has one, so both
    # refuse it alike: a clear InvalidArgument (400 at the API), never a driver error.
    for a in args:
        if isinstance(a, str) and "\x00" in a:
            raise InvalidArgument(f"text with a NUL character: {a!r}")


class Backend:
    """Hands out connections to one database; :meth:`close` closes them all."""

    name = ""
    serial = ""  # the audit table's id column

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def connection(self) -> Iterator[Db]:
        """A connection for one statement or one transaction: the one this thread holds
        already, if it holds one."""
        held: Db | None = getattr(self._local, "held", None)
        if held is not None:
            yield held
            return
        with self._checkout() as db:
            self._local.held = db
            try:
                yield db
            finally:
                self._local.held = None

    def _checkout(self) -> contextlib.AbstractContextManager[Db]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def schema(self, sql: str) -> str:
        return sql.replace("{serial}", self.serial)

    def prepare(self, db: Db) -> None:
        """Migrations that must run before the schema (none by default)."""

    def begin_write(self, db: Db, locked: bool = True) -> None:
        """Begin a write transaction: with ``locked``, the one writer at a time."""
        raise NotImplementedError

    def begin_snapshot(self, db: Db) -> None:
        db.execute("BEGIN")


class OneShot:
    """Runs each statement on a connection of its own (or the one this thread holds),
    its rows fetched before the connection goes back: reads of the committed state."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        with self._backend.connection() as db:
            return _Rows(db.execute(sql, args))


class SqliteBackend(Backend):
    name = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._all: list[Db] = []
        self._lock = threading.Lock()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file (and so its -wal and -shm, which SQLite gives the same mode) is the
        # registry user's alone: it holds password hashes and the audit log.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))

    def __str__(self) -> str:
        return str(self.path)

    @contextmanager
    def _checkout(self) -> Iterator[Db]:
        """This thread's connection (each thread keeps its own)."""
        db: Db | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._all.append(db)
        yield db

    def close(self) -> None:
        with self._lock:
            dbs, self._all = self._all, []
        for db in dbs:
            db.raw.close()
        self._local = threading.local()

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

    def begin_write(self, db: Db, locked: bool = True) -> None:
        db.execute("BEGIN IMMEDIATE")  # SQLite has one writer at a time, locked or not


class PostgresBackend(Backend):
    name = "postgresql"
    serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str, pool: PoolSize) -> None:
        super().__init__()
        import psycopg  # only a PostgreSQL registry needs the driver
        from psycopg_pool import ConnectionPool

        self.url = url
        self.size = pool
        self._lost: tuple[type[Exception], ...] = (psycopg.OperationalError,)
        try:  # the driver's own message (what is wrong with the URL or the server)
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise Unavailable(
                f"cannot connect to PostgreSQL at {self}: {str(exc).strip()}",
                hint="check the --db URL, that the server runs and accepts this user",
            ) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool.size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            check=ConnectionPool.check_connection,
            timeout=pool.timeout,
            name="imageforge-meta",
            open=True,
        )

    def __str__(self) -> str:
        return redact_url(self.url)

    @contextmanager
    def _checkout(self) -> Iterator[Db]:
        from psycopg_pool import PoolTimeout

        try:
            raw = self._pool.getconn()  # checked with a round trip; a dead one replaced
        except PoolTimeout:
            raise Unavailable(
                f"no connection to PostgreSQL at {self} came free within"
                f" {self.size.timeout:g} s ({self.size.size} in use, or the server is away)",
                hint="retry; if it persists, raise --db-pool-size (within the server's"
                " max_connections) or look at the server",
            ) from None
        try:
            yield Db(raw, pyformat=True, lost=self._lost, where=str(self))
        finally:
            # a broken connection is dropped, one left in a transaction rolled back
            self._pool.putconn(raw)

    def close(self) -> None:
        self._pool.close()

    def schema(self, sql: str) -> str:
        return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', super().schema(sql))

    def begin_write(self, db: Db, locked: bool = True) -> None:
        db.execute("BEGIN")
        if locked:
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


def open_backend(location: Path | str, pool: PoolSize | None = None) -> Backend:
    """A ``postgresql://`` (or ``postgres://``) URL, or the path of a SQLite file;
    ``pool`` bounds a PostgreSQL backend's connections."""
    if isinstance(location, str) and "://" in location:
        scheme = location.split("://", 1)[0].lower()
        if scheme in ("postgresql", "postgres"):
            return PostgresBackend(location, pool or PoolSize())
        raise InvalidArgument(
            f"unsupported metadata database {redact_url(location)!r}",
            hint="use postgresql://USER:PASSWORD@HOST/DB, or leave it out for SQLite",
        )
    return SqliteBackend(Path(location))
