"""The contract every blob store (local store, registry storage) passes.

Provide a ``blob_store`` fixture returning an object that implements BlobReader,
BlobIngester and BlobManager over empty storage.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from imageforge.errors import Conflict, DigestMismatch, NotFound
from imageforge.oci import Digest, digest_bytes

__all__ = ["BlobStoreContract"]


def _digest(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


class BlobStoreContract:
    @pytest.fixture
    def blob_store(self) -> Any:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def test_commit_makes_the_blob_readable(self, blob_store: Any) -> None:
        data = b"some layer bytes" * 1000
        with blob_store.begin("ref-1") as ingest:
            ingest.write(data[:5000])
            ingest.write(data[5000:])
            info = ingest.commit(len(data), _digest(data))
        assert info.digest == _digest(data) and info.size == len(data)
        assert blob_store.exists(_digest(data))
        assert blob_store.info(_digest(data)).size == len(data)
        with blob_store.open(_digest(data)) as f:
            assert f.read() == data
        with blob_store.open(_digest(data), 7) as f:
            assert f.read() == data[7:]

    def test_uncommitted_blob_is_invisible(self, blob_store: Any) -> None:
        data = b"half"
        ingest = blob_store.begin("ref-2")
        ingest.write(data)
        assert not blob_store.exists(_digest(data))
        assert _digest(data) not in {b.digest for b in blob_store.walk()}
        with pytest.raises(NotFound):
            blob_store.open(_digest(data))
        ingest.abort()

    def test_wrong_digest_is_refused_and_nothing_stored(self, blob_store: Any) -> None:
        with pytest.raises(DigestMismatch), blob_store.begin("ref-3") as ingest:
            ingest.write(b"evil")
            ingest.commit(4, _digest(b"good"))
        assert not blob_store.exists(_digest(b"good"))
        assert not blob_store.exists(_digest(b"evil"))

    def test_wrong_size_is_refused(self, blob_store: Any) -> None:
        with pytest.raises(DigestMismatch, match="expected 10"), blob_store.begin("r") as ing:
            ing.write(b"abc")
            ing.commit(10, _digest(b"abc"))

    def test_resume_after_interruption(self, blob_store: Any) -> None:
        data = b"0123456789" * 100
        first = blob_store.begin("resumable")
        first.write(data[:300])
        first.close()  # the writer goes away without commit (as after a lost connection)
        second = blob_store.begin("resumable")
        assert second.offset == 300
        second.write(data[300:])
        second.commit(len(data), _digest(data))
        with blob_store.open(_digest(data)) as f:
            assert f.read() == data

    def test_concurrent_writer_of_the_same_ref_conflicts(self, blob_store: Any) -> None:
        with blob_store.begin("busy"):
            with pytest.raises(Conflict, match="in use"):
                blob_store.begin("busy")

    def test_committing_existing_content_is_idempotent(self, blob_store: Any) -> None:
        for ref in ("a", "b"):
            with blob_store.begin(ref) as ingest:
                ingest.write(b"same")
                ingest.commit(4, _digest(b"same"))
        assert [b.digest for b in blob_store.walk()].count(_digest(b"same")) == 1

    def test_walk_and_delete(self, blob_store: Any) -> None:
        for data in (b"x", b"y"):
            with blob_store.begin(data.decode()) as ingest:
                ingest.write(data)
                ingest.commit(1, digest_bytes(data))
        assert {b.digest for b in blob_store.walk()} == {digest_bytes(b"x"), digest_bytes(b"y")}
        blob_store.delete(digest_bytes(b"x"))
        assert {b.digest for b in blob_store.walk()} == {digest_bytes(b"y")}
        with pytest.raises(NotFound):
            blob_store.delete(digest_bytes(b"x"))
        with pytest.raises(NotFound):
            blob_store.info(digest_bytes(b"x"))
