"""``imageforge registry gc``: unreferenced manifests and blobs go after the grace
period, referenced ones never, ``--dry-run`` changes nothing, and pushes racing the
collector never leave a manifest whose blobs are gone."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from imageforge.oci import digest_bytes, media
from imageforge.registry import collect_garbage
from imageforge.registry.storage import FsBlobStorage
from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.registry.test_api import _image, _put, _upload


def _gc(srv: Server, *args: str) -> dict[str, Any]:
    r = run_cli(["registry", "gc", "--data-dir", str(srv.data_dir), "--format", "json", *args])
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def _blobs_of(body: bytes) -> list[str]:
    doc = json.loads(body)
    return [doc["config"]["digest"], *(layer["digest"] for layer in doc["layers"])]


def _pullable(c: httpx.Client, repo: str, ref: str) -> bool:
    r = c.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": media.OCI_MANIFEST})
    if r.status_code != 200:
        return False
    return all(c.get(f"/v2/{repo}/blobs/{d}").status_code == 200 for d in _blobs_of(r.content))


def test_blob_uploaded_before_gc_can_still_be_referenced(server: Server) -> None:
    with server.client() as c:
        body = _image(c, "library/app", b"fresh layer")  # blobs uploaded, no manifest yet
        report = _gc(server)
        assert report["blobs"] == [] and report["manifests"] == []
        assert _put(c, "library/app", "v1", body).status_code == 201
        assert _pullable(c, "library/app", "v1")


def test_after_the_grace_period_unreferenced_goes_and_referenced_stays(server: Server) -> None:
    storage = FsBlobStorage(server.data_dir)
    with server.client() as c:
        kept = _image(c, "library/app", b"kept layer")
        assert _put(c, "library/app", "v1", kept).status_code == 201
        dropped = _image(c, "library/app", b"dropped layer")
        assert _put(c, "library/app", "tmp", dropped).status_code == 201
        assert c.delete("/v2/library/app/manifests/tmp").status_code == 202  # now untagged
        stray = _upload(c, "library/app", b"never referenced")
        time.sleep(1.5)

        dry = _gc(server, "--grace", "1s", "--dry-run")
        dropped_digest = str(digest_bytes(dropped))
        assert dry["dry_run"] is True
        assert dry["manifests"] == [f"library/app@{dropped_digest}"]
        assert set(dry["blobs"]) == {stray, str(digest_bytes(b"dropped layer")), dropped_digest}
        # nothing changed
        assert c.get(f"/v2/library/app/blobs/{stray}").status_code == 200
        assert c.get(f"/v2/library/app/manifests/{dropped_digest}").status_code == 200

        real = _gc(server, "--grace", "1s")
        assert real["manifests"] == dry["manifests"] and set(real["blobs"]) == set(dry["blobs"])
        assert c.get(f"/v2/library/app/blobs/{stray}").status_code == 404
        assert not storage.exists(digest_bytes(b"never referenced"))
        assert c.get(f"/v2/library/app/manifests/{dropped_digest}").status_code == 404
        assert _pullable(c, "library/app", "v1")  # the shared config survived too
        assert _gc(server, "--grace", "0")["blobs"] == []  # a referenced blob never goes
        assert _pullable(c, "library/app", "v1")
        # a stray blob can be uploaded again after collection
        assert _upload(c, "library/app", b"never referenced") == stray


def test_index_children_and_referrers_of_kept_manifests_stay(server: Server) -> None:
    with server.client() as c:
        children = []
        for arch in ("amd64", "arm64"):
            body = _image(c, "library/multi", arch.encode())
            assert _put(c, "library/multi", str(digest_bytes(body)), body).status_code == 201
            children.append(
                {
                    "mediaType": media.OCI_MANIFEST,
                    "digest": str(digest_bytes(body)),
                    "size": len(body),
                }
            )
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": children}
        ).encode()
        assert _put(c, "library/multi", "latest", index, media.OCI_INDEX).status_code == 201
        sig = _image(c, "library/multi", b"signature", subject=children[0])
        assert _put(c, "library/multi", str(digest_bytes(sig)), sig).status_code == 201
        report = _gc(server, "--grace", "0")
        assert report["manifests"] == [] and report["blobs"] == []
        for child in children:
            assert _pullable(c, "library/multi", str(child["digest"]))
        # untag the index: everything under it goes, children and referrer included
        assert c.delete("/v2/library/multi/manifests/latest").status_code == 202
        report = _gc(server, "--grace", "0")
        assert len(report["manifests"]) == 4
        assert c.get("/v2/library/multi/tags/list").json()["tags"] == []


def test_pushes_racing_the_collector_stay_whole(server: Server) -> None:
    """Each round pushes an image sharing its config with the last one, then untags the
    last one: the shared config keeps turning into garbage and being uploaded again (a
    no-op for the store, the file being there) while the collector runs flat out."""
    meta = server.meta()
    storage = FsBlobStorage(server.data_dir)
    stop = threading.Event()
    runs = []

    def collector() -> None:
        while not stop.is_set():
            runs.append(collect_garbage(meta, storage, 0.05))

    t = threading.Thread(target=collector)
    t.start()
    pushed, refused = 0, 0
    try:
        with server.client() as c:
            # Under load most rounds lose their config to the collector (refused, as
            # they must be): go on until a few got through whole, or give up.
            for i in range(300):
                if pushed >= 3 and i >= 25:
                    break
                try:
                    body = _image(c, "library/race", f"layer {i}".encode())
                    r = _put(c, "library/race", "latest", body)
                except AssertionError:  # an upload collected meanwhile: 409, upload again
                    refused += 1
                    continue
                if r.status_code == 201:
                    pushed += 1
                    assert _pullable(c, "library/race", "latest"), i
                    assert c.delete("/v2/library/race/manifests/latest").status_code == 202
                else:  # collected between upload and manifest: refused, never half-stored
                    assert r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
                    refused += 1
    finally:
        stop.set()
        t.join()
    assert len(runs) > 1 and pushed > 0
    assert sum(len(r.blobs) for r in runs) > 0
