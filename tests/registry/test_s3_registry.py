"""The registry on S3 storage (a real SeaweedFS cluster): pushes and pulls through
``registry serve`` with blob GETs redirected to presigned URLs, an upload continued on
a second process after the first was killed, garbage collection and upload expiry."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from imageforge.oci import digest_bytes
from imageforge.registry import RegistryConfig, open_registry
from imageforge.registry.storage import S3BlobStorage
from tests.conftest import need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, Server, serving, skopeo
from tests.registry.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS

CREDS = f"admin:{ADMIN_PASSWORD}"
S3_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def _s3_server(tmp: Path, url: str, db: str | None = None, config: str = "") -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "registry.toml"
    cfg.write_text(config)
    env = {**S3_ENV, "IMAGEFORGE_REGISTRY_STORAGE": url}
    if db:
        env["IMAGEFORGE_REGISTRY_DB"] = db
    return Server(tmp / "data", cfg, env=env, db=db)


@pytest.fixture(autouse=True)
def _s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in S3_ENV.items():
        monkeypatch.setenv(k, v)


def _blob_keys(url: str) -> list[str]:
    storage = S3BlobStorage(url)
    return [storage.blob_key(b.digest) for b in storage.walk()]


@pytest.mark.slow
def test_skopeo_push_and_pull_with_redirects_to_s3(
    seaweedfs: SeaweedFS, hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    url = seaweedfs.storage_url()
    srv = _s3_server(tmp_path / "reg", url, config="[registry]\nstorage_redirect = true\n")
    srv.start()
    try:
        dest = f"docker://{srv.host}/library/hello:1"
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1", dest)
        assert not any((srv.data_dir / "storage").glob("blobs/*/*"))  # all went to S3
        manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", dest).stdout)
        layer = manifest["layers"][0]["digest"]
        assert len(_blob_keys(url)) == 1 + len(manifest["layers"]) + 1  # + config, manifest

        # an anonymous pull of the public project: the registry checks, S3 serves
        r = httpx.get(f"{srv.url}/v2/library/hello/blobs/{layer}")
        assert r.status_code == 307
        assert r.headers["location"].startswith(seaweedfs.endpoint)
        assert str(digest_bytes(httpx.get(r.headers["location"]).content)) == layer
        assert httpx.get(f"{srv.url}/v2/library/nothing/blobs/{layer}").status_code in (401, 404)

        skopeo("copy", "--src-tls-verify=false", dest, f"oci:{tmp_path / 'back'}:1")
        back = json.loads((tmp_path / "back" / "index.json").read_text())
        src = json.loads((hello_oci / "index.json").read_text())
        assert back["manifests"][0]["digest"] == src["manifests"][0]["digest"]
        assert (tmp_path / "back" / "blobs" / "sha256" / layer.split(":")[1]).is_file()
        assert "blobs in s3://" in srv.log()
    finally:
        srv.stop()


@pytest.mark.slow
def test_chunked_upload_continues_on_a_second_replica_after_kill_9(
    seaweedfs: SeaweedFS, postgres: PgCluster, tmp_path: Path
) -> None:
    """Two ``registry serve`` processes over one S3 prefix and one PostgreSQL: the
    first takes the upload and its first chunk (more than one S3 part) and is killed
    with SIGKILL; the second takes the rest and the final PUT."""
    url, db = seaweedfs.storage_url(), postgres.new_database()
    first = _s3_server(tmp_path / "a", url, db)
    second = _s3_server(tmp_path / "b", url, db)
    first.start()
    second.start()
    data = os.urandom(9 << 20) + os.urandom(1 << 20)
    digest = digest_bytes(data)
    cut = 9 << 20
    try:
        with first.client() as a:
            r = a.post("/v2/library/big/blobs/uploads/")
            assert r.status_code == 202, r.text
            where = r.headers["location"]
            r = a.patch(where, content=data[:cut], headers={"Content-Range": f"0-{cut - 1}"})
            assert r.status_code == 202, r.text
        assert first.proc is not None
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        with second.client() as b:
            status = b.get(where)
            assert status.status_code == 204 and status.headers["range"] == f"0-{cut - 1}"
            end = len(data) - 1
            r = b.patch(where, content=data[cut:], headers={"Content-Range": f"{cut}-{end}"})
            assert r.status_code == 202, r.text
            r = b.put(where, params={"digest": str(digest)})
            assert r.status_code == 201, r.text
            assert r.headers["docker-content-digest"] == str(digest)
            got = b.get(f"/v2/library/big/blobs/{digest}")
            assert got.status_code == 200 and digest_bytes(got.content) == digest
        assert _blob_keys(url) == [S3BlobStorage(url).blob_key(digest)]
    finally:
        first.stop()
        second.stop()


def test_gc_and_upload_expiry_on_s3(
    seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    url = seaweedfs.storage_url()
    state = open_registry(RegistryConfig(tmp_path / "data", storage=url))
    try:
        with (
            serving(state) as base,
            httpx.Client(base_url=base, auth=("admin", ADMIN_PASSWORD)) as c,
        ):
            r = c.post(
                "/v2/library/a/blobs/uploads/",
                params={"digest": str(digest_bytes(b"x"))},
                content=b"x",
            )
            assert r.status_code == 201, r.text  # linked, but no manifest names it
            left = c.post("/v2/library/a/blobs/uploads/").headers["location"]
            assert c.patch(left, content=b"abandoned").status_code == 202
        time.sleep(1.1)  # S3's Last-Modified has whole seconds
        args = ["registry", "gc", "--data-dir", str(tmp_path / "data"), "--storage", url]
        gc = run_cli([*args, "--grace", "0", "--format", "json"])
        assert gc.returncode == 0, gc.stderr
        report = json.loads(gc.stdout)
        assert report["blobs"] == [str(digest_bytes(b"x"))]
        assert report["uploads"] == [left.rsplit("/", 1)[1]]
        assert _blob_keys(url) == []
        storage = S3BlobStorage(url)
        listed = storage.client.list_objects_v2(
            Bucket=storage.location.bucket, Prefix=storage.location.prefix
        )
        assert listed.get("Contents", []) == []  # no upload state, no trash, no lock left
    finally:
        state.meta.close()


def test_serve_refuses_a_missing_bucket_at_start(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    r = run_cli(
        [
            "registry",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--addr",
            "127.0.0.1:1",
            "--storage",
            seaweedfs.storage_url("no-such-bucket"),
        ],  # fmt: skip
        env={**os.environ, **S3_ENV},
    )
    assert r.returncode != 0
    assert "bucket 'no-such-bucket' does not exist" in r.stderr
    assert "create it" in r.stderr


def test_storage_redirect_needs_s3(tmp_path: Path) -> None:
    r = run_cli(["registry", "serve", "--data-dir", str(tmp_path / "d"), "--storage-redirect"])
    assert r.returncode != 0 and "--storage-redirect needs --storage" in r.stderr
