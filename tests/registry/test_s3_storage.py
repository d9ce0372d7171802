"""The S3 blob storage against a real SeaweedFS cluster: the blob store contract,
uploads resumed from another process's view, verification, GC hooks."""

from __future__ import annotations

import os
import time

import pytest

from imageforge.errors import Conflict, DigestMismatch, InvalidArgument, Unavailable
from imageforge.oci import digest_bytes
from imageforge.registry.storage import S3BlobStorage, S3Location
from imageforge.testing import BlobStoreContract
from tests.registry.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS

PART = 5 << 20  # S3's smallest part: the multipart path with the least data


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)


def s3_storage(cluster: SeaweedFS, url: str | None = None) -> S3BlobStorage:
    return S3BlobStorage(url or cluster.storage_url(), part_size=PART)


class TestS3Contract(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, seaweedfs: SeaweedFS, s3_env: None) -> S3BlobStorage:
        return s3_storage(seaweedfs)


def _keys(storage: S3BlobStorage, under: str) -> list[str]:
    listed = storage.client.list_objects_v2(
        Bucket=storage.location.bucket, Prefix=storage.location.prefix + under
    )
    return [str(o["Key"]) for o in listed.get("Contents", [])]


def test_multipart_upload_continues_in_another_process(seaweedfs: SeaweedFS, s3_env: None) -> None:
    """Parts sent by one process's storage, the rest by a second storage object over
    the same prefix (what another replica sees): the blob is whole and verified."""
    data = os.urandom(PART + 1000) + os.urandom(PART + 3)
    url = seaweedfs.storage_url()
    first = s3_storage(seaweedfs, url)
    ingest = first.begin("upload-x")
    ingest.write(data[: PART + 500])  # one part out, 500 bytes saved with the state
    ingest.close()
    second = s3_storage(seaweedfs, url)
    resumed = second.begin("upload-x")
    assert resumed.offset == PART + 500
    resumed.write(data[PART + 500 :])
    digest = digest_bytes(data)
    assert not second.exists(digest)
    resumed.commit(len(data), digest)
    with first.open(digest) as f:
        assert f.read() == data
    assert _keys(first, "uploads/") == []  # nothing of the session is left
    assert _keys(first, "blobs/") == [first.blob_key(digest)]
    assert first.blob_key(digest).endswith(f"blobs/sha256/{digest.hex[:2]}/{digest.hex}")


def test_wrong_digest_of_a_multipart_upload_leaves_nothing(
    seaweedfs: SeaweedFS, s3_env: None
) -> None:
    storage = s3_storage(seaweedfs)
    data = os.urandom(PART + 10)
    with storage.begin("first") as ingest:
        ingest.write(data[:PART])
        ingest.close()
    claimed = digest_bytes(b"something else")
    with pytest.raises(DigestMismatch, match="expected"), storage.begin("first") as ingest:
        ingest.write(data[PART:])
        ingest.commit(len(data), claimed)
    assert _keys(storage, "") == []
    listed = storage.client.list_multipart_uploads(Bucket=storage.location.bucket)
    assert not [
        u for u in listed.get("Uploads", []) if u["Key"].startswith(storage.location.prefix)
    ]


def test_suspended_ingest_notices_another_writer(seaweedfs: SeaweedFS, s3_env: None) -> None:
    url = seaweedfs.storage_url()
    here, there = s3_storage(seaweedfs, url), s3_storage(seaweedfs, url)
    ingest = here.begin("u")
    ingest.write(b"abc")
    ingest.suspend()
    with pytest.raises(InvalidArgument, match="not open"):
        ingest.write(b"x")
    other = there.begin("u")  # the lock was given back: another process continues
    other.write(b"def")
    other.close()
    ingest.resume()
    assert ingest.offset == 6
    ingest.commit(6, digest_bytes(b"abcdef"))
    assert here.exists(digest_bytes(b"abcdef"))


def test_killed_writers_lock_lapses(seaweedfs: SeaweedFS, s3_env: None) -> None:
    """A writer that died holding an ingest (its lock object left behind) blocks others
    only for the lease (measured on the S3 server's clock)."""
    url = seaweedfs.storage_url()
    dead = S3BlobStorage(url, part_size=PART, lease=3.0)
    dead.begin("u").write(b"lost")  # never closed: the lock object stays
    alive = S3BlobStorage(url, part_size=PART, lease=3.0)
    with pytest.raises(Conflict, match="in use"):
        alive.begin("u")
    deadline = time.monotonic() + 30
    while True:
        try:
            ingest = alive.begin("u")
            break
        except Conflict:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert ingest.offset == 0  # unsaved bytes of the dead writer were never acknowledged
    ingest.abort()


def test_gc_hooks(seaweedfs: SeaweedFS, s3_env: None) -> None:
    url = seaweedfs.storage_url()
    storage = s3_storage(seaweedfs, url)
    kept, dropped = digest_bytes(b"kept"), digest_bytes(b"dropped")
    storage.write_blob(b"kept")
    storage.write_blob(b"dropped")
    with storage.gc_lock():
        with pytest.raises(Conflict, match="another garbage collection"):
            with s3_storage(seaweedfs, url).gc_lock():
                pass
        assert storage.trash(digest_bytes(b"absent")) is None
        # a collector killed after trashing both, one of which is linked again
        storage.trash(kept)
        storage.trash(dropped)
        assert not storage.exists(kept)
        finished = storage.finish_trash(lambda d: d == kept)
    assert sorted(f.rpartition(" ")[2] for f in finished) == ["deleted", "restored"]
    assert storage.exists(kept) and not storage.exists(dropped)
    assert _keys(storage, "gc-trash/") == []
    with s3_storage(seaweedfs, url).gc_lock():  # released: the next one runs
        pass


def test_upload_expiry_hooks(seaweedfs: SeaweedFS, s3_env: None) -> None:
    storage = s3_storage(seaweedfs)
    assert storage.ingest_idle("upload-none") is None
    storage.begin("upload-old").close()
    busy = storage.begin("upload-busy")
    idle = storage.ingest_idle("upload-old")
    assert idle is not None and idle < 60
    assert not storage.discard_ingest("upload-busy")  # a request writes to it
    assert storage.remove_stale_ingests(-10) == ["upload-old"]  # every quiet one is stale
    assert storage.ingest_idle("upload-old") is None
    busy.abort()
    assert storage.discard_ingest("upload-busy")
    assert _keys(storage, "uploads/") == []


def test_write_blob_verifies_and_is_idempotent(seaweedfs: SeaweedFS, s3_env: None) -> None:
    storage = s3_storage(seaweedfs)
    info = storage.write_blob(b"manifest")
    assert storage.write_blob(b"manifest").digest == info.digest
    with pytest.raises(DigestMismatch):
        storage.write_blob(b"manifest", digest_bytes(b"other"))
    assert [b.digest for b in storage.walk()] == [info.digest]
    with storage.open(info.digest, info.size) as f:
        assert f.read() == b""


def test_refused_credentials_are_a_clear_error(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + SECRET_KEY)
    storage = s3_storage(seaweedfs)
    with pytest.raises(Unavailable, match="refused the credentials") as err:
        storage.check()
    assert "AWS_SECRET_ACCESS_KEY" in (err.value.hint or "")
    with pytest.raises(Unavailable, match="refused the credentials"):
        storage.write_blob(b"x")


def test_missing_bucket_is_a_clear_error(seaweedfs: SeaweedFS, s3_env: None) -> None:
    storage = s3_storage(seaweedfs, seaweedfs.storage_url("no-such-bucket"))
    with pytest.raises(Unavailable, match="bucket 'no-such-bucket' does not exist") as err:
        storage.check()
    assert "create it" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://bucket", "not an s3:// URL"),
        ("s3://", "not an s3:// URL"),
        ("s3://key:secret@bucket", "must not carry credentials"),
        ("s3://bucket?endpoint=http://x&colour=red", "unknown options: colour"),
        ("s3://bucket?attempts=many", "are numbers"),
    ],
)
def test_bad_storage_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        S3Location.parse(url)


def test_storage_url_options() -> None:
    loc = S3Location.parse("s3://b/some/prefix/?endpoint=http://127.0.0.1:1&region=eu&attempts=2")
    assert (loc.bucket, loc.prefix, loc.endpoint, loc.region, loc.attempts) == (
        "b", "some/prefix/", "http://127.0.0.1:1", "eu", 2,
    )  # fmt: skip
    assert str(loc) == "s3://b/some/prefix/ at http://127.0.0.1:1"
