"""When each artifact was last pulled, kept cheaply: a manifest GET only notes the time
in memory (:class:`PullClock`, an event sink for pull events); the server writes what
it noted in one transaction every few seconds, before a retention run and when it
stops. A pull is thus seen by retention at most that long late, and a ``kill -9``
loses the last few seconds of pull times, never a push time (those are the manifests'
own rows)."""

from __future__ import annotations

import threading

from imageforge.registry.events import Event
from imageforge.registry.meta import MetaStore

__all__ = ["PullClock"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS pull_times (
    repo TEXT NOT NULL, digest TEXT NOT NULL, pulled DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repo, digest));
"""


class PullClock:
    """Notes pulls in memory (an event sink: pull events only); :meth:`flush` writes
    them in one transaction."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        self.ensure_table(meta)
        self._noted: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        if event.type != "pull":
            return
        with self._lock:
            for r in event.resources:
                key = (event.repository, r.digest)
                self._noted[key] = max(event.occur_at, self._noted.get(key, event.occur_at))

    @staticmethod
    def ensure_table(meta: MetaStore) -> None:
        meta.ensure_tables(SCHEMA)

    def flush(self) -> int:
        """Write the noted pull times (a later one never overwritten by an earlier);
        how many. Put back if the write fails."""
        with self._lock:
            noted, self._noted = self._noted, {}
        if not noted:
            return 0
        try:
            with self.meta.transaction() as db:
                db.executemany(
                    "INSERT INTO pull_times VALUES (?, ?, ?) ON CONFLICT (repo, digest)"
                    " DO UPDATE SET pulled = excluded.pulled"
                    " WHERE excluded.pulled > pull_times.pulled",
                    [(r, d, t) for (r, d), t in noted.items()],
                )
        except Exception:
            with self._lock:
                for key, t in noted.items():
                    self._noted[key] = max(t, self._noted.get(key, t))
            raise
        return len(noted)
