"""S3 failing under the registry's storage, through a fault-injecting proxy in front of
the real SeaweedFS: transient 500s and slow answers are retried; a failure that lasts
is a clear error, and no half-written blob is ever visible."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.errors import Unavailable
from imageforge.oci import digest_bytes
from imageforge.registry import RegistryConfig, open_registry
from imageforge.registry.storage import S3BlobStorage
from tests.registry.conftest import ADMIN_PASSWORD, serving
from tests.registry.s3_faults import FaultProxy, any_request, fault_proxy, server_side_copy
from tests.registry.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS

PART = 5 << 20


@pytest.fixture
def proxy(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    with fault_proxy(seaweedfs.endpoint) as p:
        yield p


def _through(
    proxy: FaultProxy, seaweedfs: SeaweedFS, options: str = ""
) -> tuple[S3BlobStorage, S3BlobStorage]:
    """The storage through the proxy, and the same place seen directly."""
    prefix = uuid.uuid4().hex[:12]
    via = S3BlobStorage(
        f"s3://{seaweedfs.bucket}/{prefix}?endpoint={proxy.endpoint}{options}", part_size=PART
    )
    direct = S3BlobStorage(
        f"s3://{seaweedfs.bucket}/{prefix}?endpoint={seaweedfs.endpoint}", part_size=PART
    )
    return via, direct


def _everything(storage: S3BlobStorage) -> list[str]:
    listed = storage.client.list_objects_v2(
        Bucket=storage.location.bucket, Prefix=storage.location.prefix
    )
    return [str(o["Key"]) for o in listed.get("Contents", [])]


def test_transient_500s_are_retried(proxy: FaultProxy, seaweedfs: SeaweedFS) -> None:
    via, direct = _through(proxy, seaweedfs)
    data = os.urandom(PART + 100)
    proxy.plan(any_request, 3)  # the next three requests fail, whatever they are
    with via.begin("upload-1") as ingest:
        ingest.write(data)
        ingest.commit(len(data), digest_bytes(data))
    assert len(proxy.hits) == 3 and all(h.startswith("500 ") for h in proxy.hits)
    with direct.open(digest_bytes(data)) as f:
        assert f.read() == data


def test_a_slow_answer_is_retried(proxy: FaultProxy, seaweedfs: SeaweedFS) -> None:
    via, direct = _through(proxy, seaweedfs, "&timeout=1")
    proxy.plan(lambda m, _p, _h: m == "PUT", 1, delay=3.0)
    info = via.write_blob(b"config")
    assert proxy.hits and proxy.hits[0].startswith("slow PUT")
    assert direct.info(info.digest).size == 6


def test_lasting_failure_is_a_clear_error_and_no_blob_is_visible(
    proxy: FaultProxy, seaweedfs: SeaweedFS
) -> None:
    """The commit's last step, the server-side copy under blobs/, keeps failing: the
    upload fails with an error naming the blob, and nothing is left under blobs/."""
    via, direct = _through(proxy, seaweedfs, "&attempts=2")
    data = os.urandom(PART + 100)
    proxy.plan(server_side_copy, -1)
    with pytest.raises(
        Unavailable, match=r"S3 failed storing blob sha256:\w+: InternalError"
    ) as err:
        with via.begin("upload-1") as ingest:
            ingest.write(data)
            ingest.commit(len(data), digest_bytes(data))
    assert "kept failing after the retries" in (err.value.hint or "")
    # retried (botocore's attempts, and s3transfer's managed copy on top), all failed
    assert len(proxy.hits) >= 2 and all(h.startswith("500 PUT") for h in proxy.hits)
    assert not direct.exists(digest_bytes(data))
    assert _everything(direct) == []  # the upload was discarded too


def test_s3_down_is_a_clear_error(proxy: FaultProxy, seaweedfs: SeaweedFS) -> None:
    via, _direct = _through(proxy, seaweedfs, "&attempts=1")
    proxy.plan(any_request, -1, status=503)
    with pytest.raises(Unavailable, match="S3 failed"):
        via.check()


def test_registry_answers_503_when_s3_keeps_failing(
    proxy: FaultProxy, seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    via, direct = _through(proxy, seaweedfs, "&attempts=2")
    url = f"s3://{via.location.bucket}/{via.location.prefix}?endpoint={proxy.endpoint}&attempts=2"
    state = open_registry(RegistryConfig(tmp_path / "data", storage=url))
    proxy.plan(lambda m, p, _h: m == "PUT" and "/blobs/sha256/" in p, -1)
    data = b"layer" * 1000
    digest = str(digest_bytes(data))
    try:
        with (
            serving(state) as base,
            httpx.Client(base_url=base, auth=("admin", ADMIN_PASSWORD)) as c,
        ):
            r = c.post("/v2/library/a/blobs/uploads/", params={"digest": digest}, content=data)
            assert r.status_code == 503, r.text
            assert f"S3 failed storing blob {digest}" in r.text
            assert c.head(f"/v2/library/a/blobs/{digest}").status_code == 404
    finally:
        state.meta.close()
    assert _everything(direct) == []
