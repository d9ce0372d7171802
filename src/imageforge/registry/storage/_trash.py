"""Finishing what a killed garbage collection left in a storage's trash, the same for
every storage: a blob linked again and missing goes back, anything else is deleted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from imageforge.oci import Digest

__all__ = ["Trash", "finish_trash"]


class Trash(Protocol):
    def exists(self, digest: Digest) -> bool: ...

    def trashed(self) -> Iterator[tuple[str, Digest | None]]: ...

    def restore(self, digest: Digest, trashed: str) -> None: ...

    def purge(self, trashed: str) -> None: ...


def finish_trash(storage: Trash, in_use: Callable[[Digest], bool]) -> list[str]:
    """Finish what a killed collection left in ``storage``'s trash: a blob that
    ``in_use`` says is linked again and is missing goes back, anything else is deleted.
    The names of the trashed entries, each followed by what became of it. Only under
    the storage's ``gc_lock``."""
    finished = []
    for name, digest in list(storage.trashed()):
        short = name.rpartition("/")[2]
        if digest is not None and not storage.exists(digest) and in_use(digest):
            storage.restore(digest, name)
            finished.append(f"{short} restored")
        else:
            storage.purge(name)
            finished.append(f"{short} deleted")
    return finished
