"""The client as a library: chunked uploads, mounts, tag pages, progress, resumed
downloads; against real registries on loopback."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest

from imageforge.errors import Unauthorized
from imageforge.layers import BlobLayer, write_layer_from_dir
from imageforge.oci import Descriptor, Image, Reference
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.progress import RecordingProgress
from imageforge.remote import Client, Credentials, PushOptions, open_remote, push
from imageforge.store import Store
from imageforge.transports import open_source, write_image
from tests.registry.conftest import ADMIN_PASSWORD, Server, skopeo
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution


def _client(host: str, user: str, password: str) -> Client:
    return Client(tls_verify=False, credentials={host: Credentials(user, password)}, backoff=0.05)


def _read_back(c: Client, ref: Reference, expected: Image) -> None:
    got = open_remote(c, ref)
    assert got.digest == expected.digest
    assert isinstance(got, Image)
    for layer, want in zip(got.layers(), expected.layers(), strict=True):
        with layer.open_compressed() as f:  # verified against the digest as it is read
            while f.read(1 << 20):
                pass
        assert layer.diff_id == want.diff_id


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ours", "distribution"])
def test_big_blob_goes_up_in_chunks_and_comes_back_whole(
    kind: str, request: pytest.FixtureRequest, big_store: Path
) -> None:
    if kind == "ours":
        srv: Server | Distribution = request.getfixturevalue("ours")
        user, password, repo = "admin", ADMIN_PASSWORD, "library/big"
    else:
        srv = request.getfixturevalue("distribution")
        user, password, repo = DIST_USER, DIST_PASSWORD, "team/big"
    ref = Reference.parse(f"{srv.host}/{repo}:1")
    progress = RecordingProgress()
    with (
        open_source("big:1", Store(big_store)) as image,
        _client(srv.host, user, password) as c,
    ):
        assert isinstance(image, Image)
        opts = PushOptions(monolithic_limit=64 << 10, chunk_size=512 << 10)
        digest = push(c, image, ref, options=opts, progress=progress)
        assert digest == image.digest
        layer = image.layers()[0]
        steps = [
            e.amount
            for e in progress.events
            if e.key == f"push-{layer.digest}" and e.kind == "advance"
        ]
        assert len(steps) == -(-layer.size // (512 << 10)) and sum(steps) == layer.size  # type: ignore[arg-type]
        _read_back(c, ref, image)
        # a second push finds every blob there already
        again = RecordingProgress()
        push(c, image, ref.with_tag("2"), progress=again)
        notes = [e.text for e in again.events if e.kind == "note"]
        assert len(notes) == 2 and all(n and n.endswith("exists") for n in notes)
    creds = f"{user}:{password}"
    out = skopeo("inspect", "--tls-verify=false", "--creds", creds, f"docker://{ref}").stdout
    assert str(digest) in out


@pytest.mark.slow
def test_copy_within_a_registry_mounts_blobs(ours: Server, big_store: Path) -> None:
    src = Reference.parse(f"{ours.host}/library/big:1")
    with (
        open_source("big:1", Store(big_store)) as image,
        _client(ours.host, "admin", ADMIN_PASSWORD) as c,
    ):
        assert isinstance(image, Image)
        push(c, image, src)
        remote = open_remote(c, src)
        progress = RecordingProgress()
        dst = Reference.parse(f"{ours.host}/library/copy:1")
        push(c, remote, dst, options=PushOptions(mount_from=src.path), progress=progress)
        notes = [e.text for e in progress.events if e.kind == "note"]
        assert len(notes) == 2 and all(n and n.endswith("mounted") for n in notes)
        assert not any(e.kind == "advance" for e in progress.events)  # nothing uploaded
        _read_back(c, dst, image)


@pytest.mark.parametrize("kind", ["ours", "distribution"])
def test_tags_are_listed_across_pages(
    kind: str, request: pytest.FixtureRequest, root: Path
) -> None:
    if kind == "ours":
        srv: Server | Distribution = request.getfixturevalue("ours")
        user, password, repo = "admin", ADMIN_PASSWORD, "library/hello"
    else:
        srv = request.getfixturevalue("distribution")
        user, password, repo = DIST_USER, DIST_PASSWORD, "team/hello"
    with open_source("hello:1", Store(root)) as image, _client(srv.host, user, password) as c:
        for tag in ("a", "b", "c"):
            push(c, image, Reference.parse(f"{srv.host}/{repo}:{tag}"))
        # distribution 2.8 ignores n and sends every tag in one page, unsorted
        assert sorted(c.list_tags(srv.host, repo, page_size=1)) == ["a", "b", "c"]
        assert sorted(c.list_tags(srv.host, repo)) == ["a", "b", "c"]


def test_wrong_credentials_on_push_are_unauthorized(ours: Server, root: Path) -> None:
    ref = Reference.parse(f"{ours.host}/library/hello:1")
    with open_source("hello:1", Store(root)) as image, _client(ours.host, "admin", "bad") as c:
        with pytest.raises(Unauthorized) as err:
            push(c, image, ref)
        assert "refused the credentials of admin" in err.value.message
        assert err.value.hint and "imageforge login" in err.value.hint
    with httpx.Client(base_url=ours.url) as h:
        assert h.get("/v2/library/hello/tags/list").status_code == 404


def test_tag_pages_follow_the_link_header(ours: Server, root: Path) -> None:
    seen: list[str] = []

    def log(request: httpx.Request) -> None:
        if request.url.path.endswith("/tags/list"):
            seen.append(str(request.url.params))

    with (
        open_source("hello:1", Store(root)) as image,
        _client(ours.host, "admin", ADMIN_PASSWORD) as c,
    ):
        for tag in ("a", "b", "c"):
            push(c, image, Reference.parse(f"{ours.host}/library/hello:{tag}"))
        c._http.event_hooks["request"].append(log)
        assert c.list_tags(ours.host, "library/hello", page_size=2) == ["a", "b", "c"]
    assert [p for p in seen if "last" in p] == ["n=2&last=b"]


class _MeetingProgress(RecordingProgress):
    """Every layer copy must start before any may go on: only parallel copies pass."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=20)

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        super().start(key, description, total, unit)
        self.barrier.wait()


def _three_layer_image(tmp_path: Path) -> Image:
    additions = []
    for n in range(3):
        tree = tmp_path / f"tree{n}"
        tree.mkdir()
        (tree / f"file{n}").write_bytes(os.urandom(200_000))
        blob = tmp_path / f"layer{n}"
        with blob.open("wb") as out:
            info = write_layer_from_dir(tree, out)
        desc = Descriptor(info.media_type, info.digest, info.size)
        opener = lambda _d, p=blob: p.open("rb")  # noqa: E731
        additions.append(Addendum(BlobLayer(desc, info.diff_id, opener)))
    return append_layers(empty_image(), *additions)


@pytest.mark.slow
def test_layers_of_a_pull_come_down_in_parallel(ours: Server, tmp_path: Path) -> None:
    image = _three_layer_image(tmp_path)
    ref = Reference.parse(f"{ours.host}/library/three:1")
    store = Store(tmp_path / "store")
    with _client(ours.host, "admin", ADMIN_PASSWORD) as c:
        push(c, image, ref, options=PushOptions(jobs=4), progress=_MeetingProgress(4))  # + config
        progress = _MeetingProgress(3)
        write_image(open_remote(c, ref), "three:1", store, progress=progress, jobs=3)
    assert store.refs.get("docker.io/library/three:1").digest == image.digest
    done = [e for e in progress.events if e.kind == "done"]
    assert len(done) == 3 and not any(e.failed for e in done)
