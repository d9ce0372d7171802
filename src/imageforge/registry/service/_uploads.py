"""Upload sessions (``POST .../blobs/uploads/``, then PATCHes and a PUT): each is an
ingest of the blob storage named by its id, invisible until committed with the digest
the client claims, and a row in the metadata saying which repository it is for.

Between requests a session holds no descriptor: its ingest is suspended (the hash
state kept in this process, so the final PUT does not read the data again); in another
process, or after a restart, it resumes through ``begin``, which hashes what is on
disk. A request working on a session holds the ingest's lock, so a second request for
the same session meets a conflict instead of interleaving writes.

Sessions expire: one never finished keeps its row and its data until ``upload_expiry``
(default 7 days, as distribution's ``uploadpurging``) after it began; then it is purged
by the periodic sweep (``retention.Scheduler.sweep_uploads``: one serving process at a
time, under the ``upload-sweep`` lease) and by ``registry gc``, which also purges
sessions nobody has written to for its grace period (a killed client's, or one a killed
server was receiving). Ingest directories nobody has touched for as long (a crashed
writer's) go too. A session a request is writing to right now holds its lock and is left
for the next sweep. Each purged session is written to the audit log once
(``purge-upload``, naming the process that purged it), even if two purgers meet.

A committed blob is linked to the repository, then checked to still be there: garbage
collection unlinks in SQL before it deletes a file, so if the file went between the
commit (which found it present and stored nothing) and the link, the link is undone
and the client told to upload again.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from imageforge.errors import Conflict, DigestMismatch, InvalidArgument, NotFound
from imageforge.oci import Digest
from imageforge.registry.meta import MetaStore
from imageforge.registry.service._errors import DigestInvalid, UploadConflict, UploadUnknown
from imageforge.registry.storage import RegistryIngest, RegistryStorage

__all__ = ["UploadSession", "Uploads", "ingest_ref", "purge_uploads", "sweep_interval"]


def ingest_ref(upload_id: str) -> str:
    """The name of an upload session's ingest in the blob storage."""
    return f"upload-{upload_id}"


def sweep_interval(expiry: float) -> float:
    """How often a server looks for expired sessions: a quarter of the expiry, at least
    every hour, at most every second."""
    return min(3600.0, max(1.0, expiry / 4))


def purge_uploads(
    meta: MetaStore,
    storage: RegistryStorage,
    max_age: float | None,
    *,
    idle: float | None = None,
    dry_run: bool = False,
    user: str = "gc",
) -> list[str]:
    """Purge with their data the sessions begun more than ``max_age`` seconds ago and
    those nobody has written to for ``idle`` seconds (None: no such limit), and ingest
    directories untouched for as long that no request holds (a killed writer's); the ids
    of the sessions purged (or, with ``dry_run``, that would be). A session a request is
    writing to right now holds its lock and stays. Each session purged is audited
    (``purge-upload`` by ``user``; the detail names this host and process) by the one
    purger that removed its row."""
    limits = [limit for limit in (max_age, idle) if limit is not None]
    if not limits:
        return []
    now = time.time()
    old = set(meta.uploads_started_before(now - max_age)) if max_age is not None else set()
    quiet = meta.uploads_started_before(now - idle) if idle is not None else []
    by = f"{socket.gethostname()}:{os.getpid()}"
    purged = []
    for upload_id in [*sorted(old), *(u for u in quiet if u not in old)]:
        if upload_id not in old:
            since = storage.ingest_idle(ingest_ref(upload_id))
            if since is not None and idle is not None and since < idle:
                continue
        if dry_run:
            purged.append(upload_id)
            continue
        repo = meta.upload_repo(upload_id)
        if storage.discard_ingest(ingest_ref(upload_id)) and meta.remove_upload(upload_id):
            why = (
                f"begun more than {max_age:g} s ago"
                if upload_id in old
                else f"not written to for {idle:g} s"
            )
            meta.audit_add(user, "purge-upload", repo or "", upload_id, "ok", "", f"{why}; by {by}")
            purged.append(upload_id)
    if not dry_run:
        storage.remove_stale_ingests(min(limits))
    return purged


@dataclass
class UploadSession:
    """One upload session while a request works on it."""

    id: str
    repo: str
    ingest: RegistryIngest
    began: float
    finished: bool = False  # committed or cancelled (or tried to be)

    @property
    def offset(self) -> int:
        return self.ingest.offset

    def write(self, data: bytes) -> None:
        self.ingest.write(data)


class Uploads:
    """The upload sessions of one registry process."""

    def __init__(self, meta: MetaStore, storage: RegistryStorage, expiry: float) -> None:
        self.meta = meta
        self.storage = storage
        self.expiry = expiry
        # Suspended sessions between requests, by id, each with the time it began.
        self._suspended: dict[str, tuple[float, RegistryIngest]] = {}
        self._lock = threading.Lock()

    def link(self, repo: str, digest: Digest) -> Digest:
        """Link a stored blob to ``repo``: the end of every upload and mount. A blob
        that would take the project past its quota is refused (QuotaExceeded) and stays
        unlinked, for garbage collection."""
        try:
            size = self.storage.info(digest).size
        except NotFound:
            raise UploadConflict(f"blob {digest} was collected meanwhile; upload again") from None
        self.meta.link_blob(repo, digest, size)
        if not self.storage.exists(digest):
            # Garbage collection took the file between the commit (which found it
            # present and stored nothing) and the link: undo the link, let the client
            # upload again.
            self.meta.unlink_blob(repo, digest)
            raise UploadConflict(f"blob {digest} was collected meanwhile; upload again")
        return digest

    def mount(self, repo: str, source: str, digest: Digest) -> bool:
        """Link ``digest`` from ``source`` into ``repo`` if ``source`` has it; False
        if it does not (the client uploads it instead)."""
        if not self.meta.blob_linked(source, digest):
            return False
        self.link(repo, digest)
        return True

    def begin(self, repo: str) -> UploadSession:
        """A new session for ``repo``."""
        upload_id = str(uuid.uuid4())
        ingest = self.storage.begin(ingest_ref(upload_id))
        try:
            self.meta.add_upload(upload_id, repo)
        except BaseException:
            ingest.close()
            raise
        return UploadSession(upload_id, repo, ingest, time.time())

    def resume(self, repo: str, upload_id: str) -> UploadSession:
        """The session ``upload_id`` of ``repo``, ready for the request to work on.
        UploadUnknown if there is no such session (finished, cancelled, purged, or of
        another repository); UploadConflict if another request is working on it."""
        owner = self.meta.upload_repo(upload_id)
        if owner != repo:
            if owner is None:  # finished, cancelled or purged (by another process too)
                with self._lock:
                    self._suspended.pop(upload_id, None)
            raise UploadUnknown(f"upload {upload_id} is not known")
        # Taken out of the table while in use: a concurrent request for the same
        # session meets the ingest's lock (Conflict) instead of interleaving writes.
        with self._lock:
            began, ingest = self._suspended.pop(upload_id, (time.time(), None))
        try:
            if ingest is None:
                ingest = self.storage.begin(ingest_ref(upload_id))
            else:
                ingest.resume()
        except NotFound:
            raise UploadUnknown(f"upload {upload_id} expired or was cancelled") from None
        except Conflict as exc:
            if ingest is not None:  # in use elsewhere: keep our suspended state
                with self._lock:
                    self._suspended[upload_id] = (began, ingest)
            raise UploadConflict(exc.message) from None
        return UploadSession(upload_id, repo, ingest, began)

    def commit(self, session: UploadSession, digest: Digest) -> Digest:
        """Finish the session: its data must hash to ``digest``; then the blob is
        linked to the session's repository. The session is over either way."""
        session.finished = True
        try:
            session.ingest.commit(session.offset, digest)
        except DigestMismatch as exc:
            raise DigestInvalid(exc.message, detail={"digest": str(digest)}) from None
        except InvalidArgument as exc:
            raise DigestInvalid(exc.message) from None
        finally:
            self.meta.remove_upload(session.id)
        return self.link(session.repo, digest)

    def cancel(self, session: UploadSession) -> None:
        session.finished = True
        session.ingest.abort()
        self.meta.remove_upload(session.id)

    def release(self, session: UploadSession) -> None:
        """The request is done with ``session``: keep it, suspended, for the next one,
        or let go of a finished one. Quick: called on the event loop, where a cancelled
        request cannot skip it."""
        if session.finished:
            session.ingest.close()  # after commit or abort it only releases
            return
        session.ingest.suspend()
        with self._lock:
            self._suspended[session.id] = (session.began, session.ingest)

    def forget_expired(self, purged: list[str]) -> None:
        """Forget the suspended sessions here that are gone: ``purged`` (by this
        process's sweep) and those older than the expiry (purged, or about to be, by
        whichever process sweeps)."""
        cutoff = time.time() - self.expiry
        with self._lock:
            for upload_id in purged:
                self._suspended.pop(upload_id, None)
            for upload_id in [u for u, (t, _i) in self._suspended.items() if t < cutoff]:
                del self._suspended[upload_id]
