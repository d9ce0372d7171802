"""The metadata tables and every query on them, in SQL that SQLite and PostgreSQL both
accept; ``_backend`` holds the few differences.

One connection per thread (the HTTP edge calls in from a thread pool), readers never
wait for a writer, and every change is one write transaction (a single writer at a
time, across processes): a registry killed with -9 restarts with exactly what was
committed before.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import Conflict, Denied, NotFound
from imageforge.oci import Digest
from imageforge.registry._names import project_of
from imageforge.registry.meta._backend import Db, Executor, OneShot, PoolSize, open_backend
from imageforge.registry.meta._scans import SCAN_SCHEMA, ScanStore

__all__ = [
    "AuditRow",
    "Guard",
    "ManifestRow",
    "MetaStore",
    "MetaView",
    "ProjectRow",
    "Quota",
    "QuotaExceeded",
    "RobotRow",
    "Usage",
    "UserRow",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS repositories (name TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS blob_links (
    repo TEXT NOT NULL, digest TEXT NOT NULL, linked DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, digest));
CREATE INDEX IF NOT EXISTS blob_links_digest ON blob_links (digest);
CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL,
    size BIGINT NOT NULL, artifact_type TEXT, subject TEXT, created DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repo, digest));
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests (repo, subject);
CREATE TABLE IF NOT EXISTS manifest_refs (
    repo TEXT NOT NULL, parent TEXT NOT NULL, child TEXT NOT NULL,
    PRIMARY KEY (repo, parent, child));
CREATE TABLE IF NOT EXISTS tags (
    repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (repo, tag));
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, repo TEXT NOT NULL, started DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, admin INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS projects (name TEXT PRIMARY KEY, public INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    project TEXT NOT NULL, "user" TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (project, "user"));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS robots (
    name TEXT PRIMARY KEY, project TEXT NOT NULL, secret_hash TEXT NOT NULL,
    actions TEXT NOT NULL, expires DOUBLE PRECISION, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id {serial}, time DOUBLE PRECISION NOT NULL, "user" TEXT,
    action TEXT NOT NULL, repo TEXT NOT NULL, ref TEXT NOT NULL, result TEXT NOT NULL,
    remote TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE TABLE IF NOT EXISTS immutable_rules (
    project TEXT NOT NULL, pattern TEXT NOT NULL, PRIMARY KEY (project, pattern));
CREATE TABLE IF NOT EXISTS blob_sizes (digest TEXT PRIMARY KEY, size BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS quotas (
    project TEXT PRIMARY KEY, limit_bytes BIGINT NOT NULL, warn_percent INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS project_tables (name TEXT PRIMARY KEY);
"""

# A table name a part of the registry says holds per-project rows (a "project" column).
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")

# A project's repositories: the names from "p/" up to "p0" ('0' is the byte after '/'),
# a range both databases compare byte-wise; ``library`` also holds the one-part names.
_IN_PROJECT = "(repo >= ? AND repo < ?)"
_ONE_PART = " OR repo NOT LIKE '%/%'"


def _in_project(project: str) -> tuple[str, tuple[str, str]]:
    where = _IN_PROJECT + (_ONE_PART if project == "library" else "")
    return f"({where})", (f"{project}/", f"{project}0")


# Link (or re-link, refreshing the time) a blob to a repository.
_LINK = (
    "INSERT INTO blob_links VALUES (?, ?, ?)"
    " ON CONFLICT (repo, digest) DO UPDATE SET linked = excluded.linked"
)


@dataclass(frozen=True)
class ManifestRow:
    repo: str
    digest: Digest
    media_type: str
    size: int
    artifact_type: str | None
    subject: str | None


@dataclass(frozen=True)
class UserRow:
    name: str
    password_hash: str
    admin: bool


@dataclass(frozen=True)
class ProjectRow:
    name: str
    public: bool


@dataclass(frozen=True)
class Quota:
    """A project's storage limit, and the share of it past which it warns."""

    limit: int  # bytes
    warn_percent: int = 80


@dataclass(frozen=True)
class Usage:
    """What a project stores: each blob and manifest once however many of its
    repositories link it (as Harbor counts). ``unsized`` blobs were linked before sizes
    were recorded and are not in ``used`` until their sizes are filled in."""

    used: int
    blobs: int
    unsized: int


class QuotaExceeded(Denied):
    """A push would take a project past its storage quota."""


@dataclass(frozen=True)
class RobotRow:
    name: str  # robot$<project>+<short name>
    project: str
    secret_hash: str
    actions: frozenset[str]
    expires: float | None  # epoch seconds; None = never
    created: float

    def expired(self, now: float | None = None) -> bool:
        return self.expires is not None and (now or time.time()) >= self.expires


@dataclass(frozen=True)
class AuditRow:
    id: int
    time: float
    user: str | None
    action: str  # pull, push, delete, login, manage, ...
    repo: str
    ref: str
    result: str  # ok or refused
    remote: str
    detail: str


class MetaView:
    """Reads of tags, index children and immutable rules on one connection: inside a
    write transaction, the state that transaction sees and commits on (what a guard
    reads); outside one, the committed state. (The ``policy.RegistryView`` gates read.)"""

    def __init__(self, db: Executor) -> None:
        self._db = db

    def tag_target(self, repo: str, tag: str) -> Digest | None:
        row = self._db.execute(
            "SELECT digest FROM tags WHERE repo = ? AND tag = ?", (repo, tag)
        ).fetchone()
        return None if row is None else Digest(str(row[0]))

    def repo_tags(self, repo: str) -> list[tuple[str, Digest]]:
        rows = self._db.execute("SELECT tag, digest FROM tags WHERE repo = ?", (repo,)).fetchall()
        return [(str(t), Digest(str(d))) for t, d in rows]

    def index_children(self, repo: str, digest: Digest) -> list[Digest]:
        rows = self._db.execute(
            "SELECT child FROM manifest_refs WHERE repo = ? AND parent = ?", (repo, str(digest))
        ).fetchall()
        return [Digest(str(r[0])) for r in rows]

    def immutable_patterns(self, project: str) -> list[str]:
        rows = self._db.execute(
            "SELECT pattern FROM immutable_rules WHERE project = ? ORDER BY pattern", (project,)
        ).fetchall()
        return [str(r[0]) for r in rows]


# Checked inside a change's write transaction, before the change; raising refuses it
# (the transaction rolls back). The registry's transactional gates run as guards.
Guard = Callable[[MetaView], None]


class MetaStore:
    """All registry metadata in one database: a SQLite file (the default, a path) or
    PostgreSQL (a ``postgresql://`` URL), shared then by every registry process that
    opens the same URL. :meth:`close` closes its connections."""

    def __init__(self, location: Path | str, pool: PoolSize | None = None) -> None:
        self._backend = open_backend(location, pool)
        self.location = str(self._backend)
        with self._backend.connection() as db:
            self._backend.prepare(db)
        with self._write() as db:
            for statement in self._backend.schema(_SCHEMA + SCAN_SCHEMA).split(";"):
                if statement.strip():
                    db.execute(statement)
        self.scans = ScanStore(self)  # scan jobs, results, pull policies, allowlists

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._backend.name

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> MetaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> Executor:
        """Single statements on the committed state (or this thread's transaction)."""
        return OneShot(self._backend)

    @contextmanager
    def _connection(self) -> Iterator[Db]:
        """One connection for several statements (a transaction), this thread's own."""
        with self._backend.connection() as db:
            yield db

    @contextmanager
    def _write(self, locked: bool = True) -> Iterator[Db]:
        """A write transaction; ``locked=False`` only for rows garbage collection need
        not exclude (docs/registry-gc.md): those writers do not wait for the lock."""
        with self._backend.connection() as db:
            self._backend.begin_write(db, locked)
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _rows(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        return list(self._conn().execute(sql, args).fetchall())

    def view(self) -> MetaView:
        """The committed state, for reads in this thread."""
        return MetaView(self._conn())

    # for the parts of the registry that keep their own tables in their own modules
    # (retention, webhooks): their schema, and their queries in one write transaction
    # or on the committed state
    def ensure_tables(self, schema: str, project_tables: tuple[str, ...] = ()) -> None:
        """Create the tables of ``schema`` (``CREATE ... IF NOT EXISTS`` statements in
        the SQL both databases accept; ``{serial}`` is an id column). ``project_tables``
        name those of them whose rows belong to the project in their ``project`` column:
        deleting the project deletes them (recorded in the database, so any process
        that deletes a project knows them), and a new project of the same name starts
        with none of them (a webhook of the old one would tell its URL of the new one's
        pushes)."""
        for table in project_tables:
            if not _TABLE_NAME.fullmatch(table):
                raise ValueError(f"not a table name: {table!r}")
        with self._write() as db:
            for statement in self._backend.schema(schema).split(";"):
                if statement.strip():
                    db.execute(statement)
            for table in project_tables:
                db.execute(
                    "INSERT INTO project_tables VALUES (?) ON CONFLICT (name) DO NOTHING", (table,)
                )

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """One write transaction (one writer at a time across processes)."""
        with self._write() as db:
            yield db

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """The rows of one read on the committed state."""
        return self._rows(sql, *args)

    # settings
    def setting(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM settings WHERE key = ?", key)
        return str(rows[0][0]) if rows else None

    def delete_setting(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM settings WHERE key = ?", (key,))

    def set_setting_once(self, key: str, value: str) -> str:
        """Store ``value`` unless the key has one already; return the stored value."""
        with self._write() as db:
            db.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT DO NOTHING", (key, value))
            row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    # repositories and blob links
    def _ensure_repo(self, db: Db, repo: str) -> None:
        db.execute(
            "INSERT INTO repositories VALUES (?, ?) ON CONFLICT DO NOTHING", (repo, time.time())
        )

    def link_blob(self, repo: str, digest: Digest, size: int | None = None) -> None:
        """Link the blob to ``repo``, recording its ``size``; QuotaExceeded (nothing
        linked) if the blob is new to the project and would take it past its quota."""
        with self._write() as db:
            if size is not None:
                self._record_size(db, digest, size)
                self._check_quota(db, repo, digest, size)
            self._ensure_repo(db, repo)
            db.execute(
                _LINK,
                (repo, str(digest), time.time()),
            )

    # --- sizes and quotas
    @staticmethod
    def _record_size(db: Db, digest: Digest, size: int) -> None:
        db.execute(
            "INSERT INTO blob_sizes VALUES (?, ?) ON CONFLICT (digest) DO NOTHING",
            (str(digest), size),
        )

    def _quota(self, db: Executor, project: str) -> Quota | None:
        row = db.execute(
            "SELECT limit_bytes, warn_percent FROM quotas WHERE project = ?", (project,)
        ).fetchone()
        return None if row is None else Quota(int(row[0]), int(row[1]))

    def _usage(self, db: Executor, project: str) -> Usage:
        where, bounds = _in_project(project)
        row = db.execute(
            "SELECT COALESCE(SUM(s.size), 0), COUNT(*), COUNT(*) - COUNT(s.size) FROM"
            f" (SELECT DISTINCT digest FROM blob_links WHERE {where}) d"
            " LEFT JOIN blob_sizes s ON s.digest = d.digest",
            bounds,
        ).fetchone()
        return Usage(int(row[0]), int(row[1]), int(row[2]))

    def _check_quota(self, db: Db, repo: str, digest: Digest, size: int) -> None:
        project = project_of(repo)
        quota = self._quota(db, project)
        if quota is None:
            return
        where, bounds = _in_project(project)
        if db.execute(
            f"SELECT 1 FROM blob_links WHERE {where} AND digest = ?", (*bounds, str(digest))
        ).fetchone():
            return  # counted once per project: it is there already
        used = self._usage(db, project).used
        if used + size > quota.limit:
            raise QuotaExceeded(
                f"project {project} is over its storage quota: it uses {used} of"
                f" {quota.limit} bytes and {digest} needs {size} more",
                hint="delete images from the project (then run registry gc), or ask an"
                " admin to raise the quota",
            )

    def set_quota(self, project: str, quota: Quota | None) -> None:
        """Set (None: remove) the project's storage quota."""
        with self._write() as db:
            if quota is None:
                db.execute("DELETE FROM quotas WHERE project = ?", (project,))
            else:
                db.execute(
                    "INSERT INTO quotas VALUES (?, ?, ?) ON CONFLICT (project) DO UPDATE"
                    " SET limit_bytes = excluded.limit_bytes,"
                    " warn_percent = excluded.warn_percent",
                    (project, quota.limit, quota.warn_percent),
                )

    def quota(self, project: str) -> Quota | None:
        return self._quota(self._conn(), project)

    def usage(self, project: str) -> Usage:
        return self._usage(self._conn(), project)

    def unsized_blobs(self, project: str) -> list[Digest]:
        """The project's blobs whose sizes were never recorded (linked by an older
        version), to be filled in with :meth:`record_sizes`."""
        where, bounds = _in_project(project)
        rows = self._rows(
            f"SELECT DISTINCT l.digest FROM blob_links l LEFT JOIN blob_sizes s"
            f" ON s.digest = l.digest WHERE {where.replace('repo', 'l.repo')}"
            " AND s.size IS NULL",
            *bounds,
        )
        return [Digest(str(r[0])) for r in rows]

    def record_sizes(self, sizes: dict[Digest, int]) -> None:
        with self._write() as db:
            for digest, size in sizes.items():
                self._record_size(db, digest, size)

    def blob_linked(self, repo: str, digest: Digest) -> bool:
        return bool(
            self._rows("SELECT 1 FROM blob_links WHERE repo = ? AND digest = ?", repo, digest)
        )

    def unlink_blob(self, repo: str, digest: Digest, guard: Guard | None = None) -> bool:
        """Unlink the blob from ``repo`` unless ``guard`` refuses, in one transaction."""
        with self._write() as db:
            if guard is not None:
                guard(MetaView(db))
            cur = db.execute(
                "DELETE FROM blob_links WHERE repo = ? AND digest = ?", (repo, str(digest))
            )
        return cur.rowcount > 0

    def repositories(self, last: str | None, n: int | None) -> list[str]:
        sql = "SELECT name FROM repositories WHERE name > ? ORDER BY name"
        args: list[object] = [last or ""]
        if n is not None:
            sql += " LIMIT ?"
            args.append(n)
        return [str(r[0]) for r in self._rows(sql, *args)]

    # manifests and tags
    def put_manifest(
        self,
        row: ManifestRow,
        children: list[Digest],
        blobs: list[Digest],
        tag: str | None,
        guard: Guard | None = None,
    ) -> None:
        """Store the manifest (and move ``tag`` to it) unless ``guard`` refuses, checked
        in the same transaction, so two racing pushes cannot both pass it."""
        with self._write() as db:
            # Checked again here, in the transaction: garbage collection unlinks a blob
            # in its own transaction before deleting the file, so either it sees the
            # fresh link times below and keeps the blob, or this sees the link gone.
            for b in blobs:
                if not db.execute(
                    "SELECT 1 FROM blob_links WHERE repo = ? AND digest = ?", (row.repo, str(b))
                ).fetchone():
                    raise NotFound(f"blob {b} is not in {row.repo}")
            for c in children:
                if not db.execute(
                    "SELECT 1 FROM manifests WHERE repo = ? AND digest = ?", (row.repo, str(c))
                ).fetchone():
                    raise NotFound(f"manifest {c} is not in {row.repo}")
            if guard is not None:
                guard(MetaView(db))
            self._record_size(db, row.digest, row.size)
            self._check_quota(db, row.repo, row.digest, row.size)
            self._ensure_repo(db, row.repo)
            db.execute(
                "INSERT INTO manifests VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, digest)"
                " DO UPDATE SET media_type = excluded.media_type, size = excluded.size,"
                " artifact_type = excluded.artifact_type, subject = excluded.subject,"
                " created = excluded.created",
                (
                    row.repo,
                    str(row.digest),
                    row.media_type,
                    row.size,
                    row.artifact_type,
                    row.subject,
                    time.time(),
                ),
            )
            db.executemany(
                "INSERT INTO manifest_refs VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(row.repo, str(row.digest), str(c)) for c in children],
            )
            now = time.time()
            db.executemany(
                _LINK,
                [(row.repo, str(b), now) for b in [row.digest, *blobs]],
            )
            if tag is not None:
                db.execute(
                    "INSERT INTO tags VALUES (?, ?, ?)"
                    " ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest",
                    (row.repo, tag, str(row.digest)),
                )

    def manifest(self, repo: str, digest: Digest) -> ManifestRow | None:
        rows = self._rows(
            "SELECT media_type, size, artifact_type, subject FROM manifests"
            " WHERE repo = ? AND digest = ?",
            repo,
            digest,
        )
        if not rows:
            return None
        mt, size, at, subject = rows[0]
        return ManifestRow(
            repo,
            Digest(digest),
            str(mt),
            int(str(size)),
            None if at is None else str(at),
            None if subject is None else str(subject),
        )

    def resolve_tag(self, repo: str, tag: str) -> Digest | None:
        rows = self._rows("SELECT digest FROM tags WHERE repo = ? AND tag = ?", repo, tag)
        return Digest(str(rows[0][0])) if rows else None

    def tags(self, repo: str, last: str | None, n: int | None) -> list[str]:
        sql = "SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag"
        args: list[object] = [repo, last or ""]
        if n is not None:
            sql += " LIMIT ?"
            args.append(n)
        return [str(r[0]) for r in self._rows(sql, *args)]

    def repo_exists(self, repo: str) -> bool:
        return bool(self._rows("SELECT 1 FROM repositories WHERE name = ?", repo))

    def delete_tag(self, repo: str, tag: str, guard: Guard | None = None) -> bool:
        """Remove a tag unless ``guard`` refuses, in one transaction."""
        with self._write() as db:
            if guard is not None:
                guard(MetaView(db))
            cur = db.execute("DELETE FROM tags WHERE repo = ? AND tag = ?", (repo, tag))
        return cur.rowcount > 0

    def delete_manifest(self, repo: str, digest: Digest, guard: Guard | None = None) -> bool:
        """Remove a manifest and every tag pointing at it unless ``guard`` refuses, in
        one transaction."""
        with self._write() as db:
            if guard is not None:
                guard(MetaView(db))
            cur = db.execute(
                "DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, str(digest))
            )
            db.execute("DELETE FROM tags WHERE repo = ? AND digest = ?", (repo, str(digest)))
            db.execute(
                "DELETE FROM manifest_refs WHERE repo = ? AND parent = ?", (repo, str(digest))
            )
        return cur.rowcount > 0

    def referrers(self, repo: str, subject: Digest) -> list[ManifestRow]:
        rows = self._rows(
            "SELECT digest FROM manifests WHERE repo = ? AND subject = ? ORDER BY digest",
            repo,
            subject,
        )
        out = [self.manifest(repo, Digest(str(r[0]))) for r in rows]
        return [m for m in out if m is not None]

    # uploads
    def add_upload(self, upload_id: str, repo: str) -> None:
        with self._write(locked=False) as db:  # a session's row names no blob
            db.execute("INSERT INTO uploads VALUES (?, ?, ?)", (upload_id, repo, time.time()))

    def upload_repo(self, upload_id: str) -> str | None:
        rows = self._rows("SELECT repo FROM uploads WHERE id = ?", upload_id)
        return str(rows[0][0]) if rows else None

    def remove_upload(self, upload_id: str) -> bool:
        """Forget the session's row; whether this call removed it (two purgers of one
        session: one of them did)."""
        with self._write(locked=False) as db:
            cur = db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        return cur.rowcount == 1

    def uploads_started_before(self, cutoff: float) -> list[str]:
        """The ids of upload sessions begun before ``cutoff`` (epoch seconds)."""
        rows = self._rows("SELECT id FROM uploads WHERE started < ? ORDER BY started", cutoff)
        return [str(r[0]) for r in rows]

    # users and projects
    def add_user(self, name: str, password_hash: str, admin: bool = False) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET password_hash = excluded.password_hash, admin = excluded.admin",
                (name, password_hash, int(admin)),
            )

    def user(self, name: str) -> UserRow | None:
        rows = self._rows("SELECT password_hash, admin FROM users WHERE name = ?", name)
        return UserRow(name, str(rows[0][0]), bool(rows[0][1])) if rows else None

    def user_count(self) -> int:
        return int(str(self._rows("SELECT count(*) FROM users")[0][0]))

    def add_project(self, name: str, public: bool) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO projects VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET public = excluded.public",
                (name, int(public)),
            )

    def project(self, name: str) -> ProjectRow | None:
        rows = self._rows("SELECT public FROM projects WHERE name = ?", name)
        return ProjectRow(name, bool(rows[0][0])) if rows else None

    def add_member(self, project: str, user: str, role: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO members VALUES (?, ?, ?)"
                ' ON CONFLICT (project, "user") DO UPDATE SET role = excluded.role',
                (project, user, role),
            )

    def role(self, project: str, user: str) -> str | None:
        rows = self._rows(
            'SELECT role FROM members WHERE project = ? AND "user" = ?', project, user
        )
        return str(rows[0][0]) if rows else None

    def users(self) -> list[UserRow]:
        rows = self._rows("SELECT name, password_hash, admin FROM users ORDER BY name")
        return [UserRow(str(n), str(h), bool(a)) for n, h, a in rows]

    def delete_user(self, name: str) -> bool:
        with self._write() as db:
            cur = db.execute("DELETE FROM users WHERE name = ?", (name,))
            db.execute('DELETE FROM members WHERE "user" = ?', (name,))
        return cur.rowcount > 0

    def projects(self) -> list[ProjectRow]:
        rows = self._rows("SELECT name, public FROM projects ORDER BY name")
        return [ProjectRow(str(n), bool(p)) for n, p in rows]

    def delete_project(
        self,
        name: str,
        force: bool = False,
        guard: Callable[[MetaView, str], None] | None = None,
    ) -> list[str] | None:
        """Delete a project with its members, robots and immutable rules; None if there
        is no such project, else the repositories deleted with it. A project that holds
        repositories is refused (Conflict) unless ``force``, which deletes them (their
        tags, manifests, blob links and upload sessions; garbage collection frees the
        blobs) - if ``guard`` (called with each repository) refuses none of them."""
        # The project's repositories are the names from "name/" up to "name0" ('0' is the
        # byte after '/'): a range both databases compare byte-wise.
        inside = "name >= ? AND name < ?"
        bounds = (f"{name}/", f"{name}0")
        with self._write() as db:
            if not db.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
                return None
            repos = [
                str(r[0])
                for r in db.execute(
                    f"SELECT name FROM repositories WHERE {inside} ORDER BY name", bounds
                ).fetchall()
            ]
            if repos and not force:
                shown = ", ".join(repos[:5]) + (f" and {len(repos) - 5} more" if repos[5:] else "")
                raise Conflict(
                    f"project {name} is not empty: it holds {len(repos)} repositories ({shown})",
                    hint="delete its repositories first, or delete with --force (API:"
                    " ?force=true) to delete them with the project",
                )
            if guard is not None:
                for repo in repos:
                    guard(MetaView(db), repo)
            where = inside.replace("name", "repo")
            for table in ("tags", "manifests", "manifest_refs", "blob_links", "uploads"):
                db.execute(f"DELETE FROM {table} WHERE {where}", bounds)
            db.execute(f"DELETE FROM repositories WHERE {inside}", bounds)
            db.execute("DELETE FROM projects WHERE name = ?", (name,))
            db.execute("DELETE FROM members WHERE project = ?", (name,))
            db.execute("DELETE FROM robots WHERE project = ?", (name,))
            db.execute("DELETE FROM immutable_rules WHERE project = ?", (name,))
            db.execute("DELETE FROM quotas WHERE project = ?", (name,))
            db.execute("DELETE FROM project_policies WHERE project = ?", (name,))
            db.execute("DELETE FROM cve_allowlist WHERE scope = ?", (name,))
            for (table,) in db.execute("SELECT name FROM project_tables").fetchall():
                if _TABLE_NAME.fullmatch(str(table)):
                    db.execute(f"DELETE FROM {table} WHERE project = ?", (name,))
        return repos

    def members(self, project: str) -> list[tuple[str, str]]:
        rows = self._rows(
            'SELECT "user", role FROM members WHERE project = ? ORDER BY "user"', project
        )
        return [(str(u), str(r)) for u, r in rows]

    def remove_member(self, project: str, user: str) -> bool:
        with self._write() as db:
            cur = db.execute(
                'DELETE FROM members WHERE project = ? AND "user" = ?', (project, user)
            )
        return cur.rowcount > 0

    # robot accounts
    def add_robot(self, row: RobotRow) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO robots VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " project = excluded.project, secret_hash = excluded.secret_hash,"
                " actions = excluded.actions, expires = excluded.expires,"
                " created = excluded.created",
                (
                    row.name,
                    row.project,
                    row.secret_hash,
                    ",".join(sorted(row.actions)),
                    row.expires,
                    row.created,
                ),
            )

    def _robot(self, r: tuple[object, ...]) -> RobotRow:
        name, project, secret, actions, expires, created = r
        return RobotRow(
            str(name),
            str(project),
            str(secret),
            frozenset(a for a in str(actions).split(",") if a),
            None if expires is None else float(str(expires)),
            float(str(created)),
        )

    def robot(self, name: str) -> RobotRow | None:
        rows = self._rows("SELECT * FROM robots WHERE name = ?", name)
        return self._robot(rows[0]) if rows else None

    def robots(self, project: str | None = None) -> list[RobotRow]:
        if project is None:
            rows = self._rows("SELECT * FROM robots ORDER BY name")
        else:
            rows = self._rows("SELECT * FROM robots WHERE project = ? ORDER BY name", project)
        return [self._robot(r) for r in rows]

    def delete_robot(self, name: str) -> bool:
        with self._write() as db:
            cur = db.execute("DELETE FROM robots WHERE name = ?", (name,))
        return cur.rowcount > 0

    # audit log
    def audit_add(
        self,
        user: str | None,
        action: str,
        repo: str,
        ref: str,
        result: str,
        remote: str,
        detail: str = "",
    ) -> None:
        with self._write(locked=False) as db:  # appended: nothing reads it to decide
            db.execute(
                'INSERT INTO audit (time, "user", action, repo, ref, result, remote, detail)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                # A log keeps what it can: a NUL (refused by the database) becomes U+FFFD.
                tuple(
                    v.replace("\x00", "\ufffd") if isinstance(v, str) else v
                    for v in (time.time(), user, action, repo, ref, result, remote, detail)
                ),
            )

    def audit(
        self,
        *,
        user: str | None = None,
        repo: str | None = None,
        action: str | None = None,
        result: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        """Newest first, filtered by every argument given."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (("user", user), ("repo", repo), ("action", action)):
            if value is not None:
                where.append(f'"{column}" = ?')
                args.append(value)
        if result is not None:
            where.append("result = ?")
            args.append(result)
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        sql = "SELECT * FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._rows(sql, *args, limit)
        return [
            AuditRow(
                int(str(i)),
                float(str(t)),
                None if u is None else str(u),
                str(a),
                str(rp),
                str(rf),
                str(rs),
                str(rm),
                str(d),
            )
            for i, t, u, a, rp, rf, rs, rm, d in rows
        ]

    # immutable tag rules
    def set_immutable(self, project: str, patterns: list[str]) -> None:
        """Replace ``project``'s immutable tag patterns (globs)."""
        with self._write() as db:
            db.execute("DELETE FROM immutable_rules WHERE project = ?", (project,))
            db.executemany(
                "INSERT INTO immutable_rules VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(project, p) for p in patterns],
            )

    def immutable(self, project: str) -> list[str]:
        return self.view().immutable_patterns(project)

    # listings for the management API
    def tag_list(self, repo: str) -> list[tuple[str, Digest]]:
        rows = self._rows("SELECT tag, digest FROM tags WHERE repo = ? ORDER BY tag", repo)
        return [(str(t), Digest(str(d))) for t, d in rows]

    def manifest_list(self, repo: str) -> list[tuple[ManifestRow, float]]:
        rows = self._rows(
            "SELECT digest, media_type, size, artifact_type, subject, created FROM manifests"
            " WHERE repo = ? ORDER BY created, digest",
            repo,
        )
        return [
            (
                ManifestRow(
                    repo,
                    Digest(str(d)),
                    str(mt),
                    int(str(size)),
                    None if at is None else str(at),
                    None if sub is None else str(sub),
                ),
                float(str(created)),
            )
            for d, mt, size, at, sub, created in rows
        ]

    def tags_of(self, repo: str, digest: Digest) -> list[str]:
        rows = self._rows(
            "SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag", repo, digest
        )
        return [str(r[0]) for r in rows]

    # garbage collection
    def gc_snapshot(
        self,
    ) -> tuple[
        list[tuple[str, str, float, str | None]], set[tuple[str, str]], list[tuple[str, str, str]]
    ]:
        """Every manifest (repo, digest, created, subject), tagged (repo, digest) pairs
        and index references (repo, parent, child), read in one transaction."""
        with self._connection() as conn:
            return self._gc_read(conn)

    def _gc_read(
        self, conn: Db
    ) -> tuple[
        list[tuple[str, str, float, str | None]], set[tuple[str, str]], list[tuple[str, str, str]]
    ]:
        self._backend.begin_snapshot(conn)
        try:
            manifests = [
                (str(r), str(d), float(c), None if s is None else str(s))
                for r, d, c, s in conn.execute(
                    "SELECT repo, digest, created, subject FROM manifests"
                ).fetchall()
            ]
            tagged = {
                (str(r), str(d))
                for r, d in conn.execute("SELECT repo, digest FROM tags").fetchall()
            }
            refs = [
                (str(r), str(p), str(c))
                for r, p, c in conn.execute(
                    "SELECT repo, parent, child FROM manifest_refs"
                ).fetchall()
            ]
        finally:
            conn.execute("COMMIT")
        return manifests, tagged, refs

    def gc_delete_manifest(self, repo: str, digest: Digest, cutoff: float) -> bool:
        """Delete the manifest unless, now, it is tagged, newer than ``cutoff`` or in an
        index; True if deleted."""
        with self._write() as db:
            busy = db.execute(
                "SELECT 1 FROM tags WHERE repo = ? AND digest = ?"
                " UNION SELECT 1 FROM manifests WHERE repo = ? AND digest = ? AND created >= ?"
                " UNION SELECT 1 FROM manifest_refs f JOIN manifests m"
                "   ON m.repo = f.repo AND m.digest = f.parent"
                "   WHERE f.repo = ? AND f.child = ?",
                (repo, str(digest), repo, str(digest), cutoff, repo, str(digest)),
            ).fetchone()
            if busy:
                return False
            cur = db.execute(
                "DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, str(digest))
            )
            db.execute(
                "DELETE FROM manifest_refs WHERE repo = ? AND parent = ?", (repo, str(digest))
            )
            db.execute("DELETE FROM blob_links WHERE repo = ? AND digest = ?", (repo, str(digest)))
        return cur.rowcount > 0

    def newest_links(self) -> dict[str, float]:
        """For each linked digest, its newest link time."""
        rows = self._rows("SELECT digest, max(linked) FROM blob_links GROUP BY digest")
        return {str(d): float(str(t)) for d, t in rows}

    def gc_unlink_blob(self, digest: Digest, cutoff: float) -> bool:
        """Remove every link to the blob unless, now, one is newer than ``cutoff`` or it
        is a stored manifest; True if it may be deleted."""
        with self._write() as db:
            busy = db.execute(
                "SELECT 1 FROM blob_links WHERE digest = ? AND linked >= ?"
                " UNION SELECT 1 FROM manifests WHERE digest = ?",
                (str(digest), cutoff, str(digest)),
            ).fetchone()
            if busy:
                return False
            db.execute("DELETE FROM blob_links WHERE digest = ?", (str(digest),))
        return True

    def blob_in_use(self, digest: Digest) -> bool:
        """Whether any repository links the blob or stores it as a manifest."""
        return bool(
            self._rows(
                "SELECT 1 FROM blob_links WHERE digest = ? UNION SELECT 1 FROM manifests"
                " WHERE digest = ?",
                digest,
                digest,
            )
        )
