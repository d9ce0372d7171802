"""Blobs of the registry on a local filesystem.

The registry shares the local store's content-addressed layout and ingest machinery
(``store.FileBlobStore``) rather than a second implementation: blobs are shared across
repositories (which repository may see which blob is metadata, kept in SQL). Its files
are private to the registry's user: blobs ``0400``, data being uploaded ``0600``.

Garbage collection moves a blob into ``gc-trash/`` before deleting it. A collector killed
in between leaves the file there; the next one, which holds ``gc.lock`` as every
collector does, finishes it (:meth:`FsBlobStorage.finish_trash`): put back if something
links the blob again and it is missing, deleted otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from imageforge.errors import Conflict, InvalidArgument
from imageforge.oci import Digest
from imageforge.registry.storage._trash import finish_trash
from imageforge.store import FileBlobStore
from imageforge.store._lock import FileLock

__all__ = ["FsBlobStorage"]


class FsBlobStorage(FileBlobStore):
    """BlobReader + BlobIngester + BlobManager under ``<data-dir>/storage``."""

    blob_mode = 0o400
    file_mode = 0o600

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / "storage")
        self.trash_dir = self.root / "gc-trash"

    @contextlib.contextmanager
    def gc_lock(self) -> Iterator[None]:
        """Held by a garbage collection for its whole run: one at a time per data
        directory (Conflict for a second), and a collector's trash is its own."""
        try:
            held = FileLock(self.root / "gc.lock").exclusive(blocking=False)
            held.__enter__()
        except Conflict:
            raise Conflict(
                f"another garbage collection is running on {self.root.parent}",
                hint="wait for it to finish (a killed one holds nothing)",
            ) from None
        try:
            yield
        finally:
            held.__exit__(None, None, None)

    def trash(self, digest: Digest) -> str | None:
        """Move the blob aside (atomically) for garbage collection; None if absent."""
        self.trash_dir.mkdir(mode=0o700, exist_ok=True)
        target = self.trash_dir / f"{digest.algorithm}-{digest.hex}-{os.getpid()}"
        try:
            os.rename(self.path(digest), target)
        except FileNotFoundError:
            return None
        return str(target)

    def restore(self, digest: Digest, trashed: str) -> None:
        """Put a trashed blob back (it was referenced again meanwhile)."""
        self.path(digest).parent.mkdir(parents=True, exist_ok=True)
        os.rename(trashed, self.path(digest))

    def purge(self, trashed: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(trashed)

    def trashed(self) -> Iterator[tuple[str, Digest | None]]:
        """What earlier collections left in the trash (each file and the blob it was,
        None for a name that is no blob's); only under :meth:`gc_lock`."""
        if not self.trash_dir.is_dir():
            return
        for entry in sorted(os.scandir(self.trash_dir), key=lambda e: e.name):
            algorithm, _, rest = entry.name.partition("-")
            try:
                digest: Digest | None = Digest.from_hex(algorithm, rest.rpartition("-")[0])
            except InvalidArgument:
                digest = None
            yield entry.path, digest

    def finish_trash(self, in_use: Callable[[Digest], bool]) -> list[str]:
        """Finish what a killed collection left in the trash (:func:`finish_trash`)."""
        return finish_trash(self, in_use)

    def remove_stale_ingests(self, older_than: float) -> list[str]:
        """Remove ingest directories untouched for ``older_than`` seconds that no
        request holds (a killed writer's); their names."""
        removed = []
        for path in self.stale_ingests(older_than):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed

    def blob_url(self, digest: Digest, expires: int = 300) -> str | None:
        """No URL to redirect to: blobs on a local disk are served by the registry."""
        return None

    def discard_ingest(self, ref: str) -> bool:
        """Remove the ingest ``ref`` and its data; False if a request is writing to it
        right now (it holds the ingest's lock), True if it is gone."""
        directory = self.ingest_path(ref)
        if not directory.is_dir():
            return True
        try:
            with FileLock(directory / "lock").exclusive(blocking=False):
                shutil.rmtree(directory, ignore_errors=True)
        except Conflict:
            return False
        return True
