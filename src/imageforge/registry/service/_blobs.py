"""Blobs of a repository: which ones it may read (its links), their bytes, and deletes,
which the delete gates decide inside the unlinking transaction."""

from __future__ import annotations

from typing import IO

from imageforge.errors import NotFound
from imageforge.oci import Digest
from imageforge.registry.meta import MetaStore
from imageforge.registry.policy import GateContext, Gates
from imageforge.registry.service._errors import BlobUnknown
from imageforge.registry.storage import RegistryStorage
from imageforge.store import BlobInfo

__all__ = ["Blobs"]


class Blobs:
    def __init__(
        self, meta: MetaStore, storage: RegistryStorage, gates: Gates, *, redirect: bool = False
    ) -> None:
        self.meta = meta
        self.storage = storage
        self.gates = gates
        self.redirect = redirect

    def url(self, digest: Digest) -> str | None:
        """Where to send a client for the blob's bytes (a presigned URL of the storage),
        None to serve them here; only with ``redirect`` (after ``info`` checked access)."""
        return self.storage.blob_url(digest) if self.redirect else None

    def info(self, repo: str, digest: Digest) -> BlobInfo:
        """The blob, if ``repo`` may read it (it was pushed to or mounted into it)."""
        if not self.meta.blob_linked(repo, digest):
            raise BlobUnknown(f"blob {digest} is not in {repo}", detail={"digest": str(digest)})
        try:
            return self.storage.info(digest)
        except NotFound:
            raise BlobUnknown(f"blob {digest} is not stored") from None

    def open(self, digest: Digest, offset: int = 0) -> IO[bytes]:
        return self.storage.open(digest, offset)

    def delete(self, repo: str, digest: Digest, user: str | None) -> None:
        """Unlink the blob from ``repo`` (garbage collection frees it when no
        repository links it any more)."""
        ctx = GateContext(
            "delete", repo, user, reference=str(digest), target="blob", state=self.meta.view()
        )
        self.gates.check(digest, ctx)
        if not self.meta.unlink_blob(
            repo, digest, lambda view: self.gates.check_in(view, digest, ctx)
        ):
            raise BlobUnknown(f"blob {digest} is not in {repo}")
