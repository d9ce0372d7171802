"""One way of naming where an image is, one way of finding it, one rule for when FROM
pulls: ``imageforge.pipeline`` without a registry or a runtime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument, NotFound, Unavailable
from imageforge.oci import Reference
from imageforge.pipeline import (
    FromResolver,
    Session,
    copy,
    find_image,
    find_in_store,
    location_text,
    names_registry,
    open_image,
    parse_location,
    prune,
)
from imageforge.progress import RecordingProgress
from imageforge.store import Store
from imageforge.transports import TransportRef

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HELLO = "docker.io/library/hello:1"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "root")
    with Session(s) as session:
        copy(session, f"rootfs:{EXAMPLES / 'hello-rootfs'}", "hello:1")
    return s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker://reg.example:5000/team/app", Reference("reg.example:5000", "team/app", "latest")),
        ("docker://busybox:1.36", Reference("docker.io", "library/busybox", "1.36")),
        ("oci:/srv/layout:v1", TransportRef("oci", "/srv/layout", "v1")),
        ("oci-archive:app.tar", TransportRef("oci-archive", "app.tar")),
        ("rootfs:/srv/root:with-colon", TransportRef("rootfs", "/srv/root:with-colon")),
        ("busybox", TransportRef("store", "docker.io/library/busybox:latest")),
    ],
)
def test_every_spelling_of_a_location(text: str, expected: object) -> None:
    location = parse_location(text)
    assert location == expected
    assert parse_location(location_text(location)) == location  # spelled back, read back


@pytest.mark.parametrize(
    ("name", "pulled"),
    [
        ("busybox", False),  # never fetched from Docker Hub unasked
        ("library/busybox:1", False),
        ("localhost/app:1", True),
        ("reg.example/app:1", True),
        ("127.0.0.1:5000/app", True),
        ("busybox@sha256:" + "0" * 64, True),
    ],
)
def test_which_names_a_build_may_pull(name: str, pulled: bool) -> None:
    assert names_registry(name) is pulled


def test_an_image_is_found_by_name_or_id_prefix(store: Store) -> None:
    digest = store.refs.get(HELLO).digest
    assert find_in_store(store, "hello:1") == (HELLO, digest)
    assert find_in_store(store, digest.hex[:12]) == (HELLO, digest)
    assert find_in_store(store, str(digest)) == (HELLO, digest)
    store.refs.delete(HELLO)
    assert find_in_store(store, str(digest)) == (str(digest), digest)  # no name left
    with pytest.raises(NotFound, match="not in the store") as err:
        find_in_store(store, "nothing:1")
    assert err.value.hint and "imageforge images" in err.value.hint


def test_a_transport_is_read_without_opening_the_store(store: Store, tmp_path: Path) -> None:
    with Session(store) as session:
        copy(session, "hello:1", f"oci:{tmp_path / 'layout'}:1")
    root = tmp_path / "never-made"
    with Session(root) as session:
        found = find_image(session, f"oci:{tmp_path / 'layout'}:1")
        assert found.name == f"oci:{tmp_path / 'layout'}:1"
        copy(session, found.location, f"oci-archive:{tmp_path / 'hello.tar'}:1")
        with open_image(session, f"oci-archive:{tmp_path / 'hello.tar'}:1") as named:
            assert named.image.digest == store.refs.get(HELLO).digest
    assert not root.exists()  # no store was needed, none was made


def test_rootfs_is_a_source_only(store: Store, tmp_path: Path) -> None:
    with (
        Session(store) as session,
        pytest.raises(InvalidArgument, match="rootfs: is a source only"),
    ):
        copy(session, "hello:1", f"rootfs:{tmp_path / 'out'}")


def test_from_reads_a_transport_and_the_store(store: Store, tmp_path: Path) -> None:
    with Session(store) as session:
        copy(session, "hello:1", f"oci:{tmp_path / 'layout'}:1")
        resolve = FromResolver(session)
        from_layout = resolve(f"oci:{tmp_path / 'layout'}:1", None)
        from_store = resolve("hello:1", None)
        assert from_layout.digest == from_store.digest
        assert from_store.config().data["rootfs"]["diff_ids"]  # still readable


def test_from_pulls_only_a_name_that_spells_a_registry(store: Store) -> None:
    progress = RecordingProgress()
    with Session(store, tls_verify=False, progress=progress) as session:
        resolve = FromResolver(session)
        with pytest.raises(NotFound, match="not in the store"):
            resolve("busybox:missing", None)  # a bare name: no registry is asked
        assert not [e for e in progress.events if e.kind == "note"]
        with pytest.raises(Unavailable, match="127.0.0.1:9"):
            resolve("127.0.0.1:9/team/app:1", None)  # not here: pulled, and the host is down
    assert [e.text for e in progress.events if e.kind == "note"] == [
        "pulling 127.0.0.1:9/team/app:1"
    ]


def test_store_only_work_does_not_load_the_registry_client() -> None:
    probe = (
        "import sys\n"
        "from imageforge.pipeline import Session, copy, find_in_store, prune\n"
        "print('imageforge.remote' in sys.modules, 'imageforge.builder' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_prune_keeps_named_content(store: Store) -> None:
    pruned = prune(store)
    assert pruned.blobs.removed == [] and pruned.snapshots_freed == 0
    store.refs.delete(HELLO)
    assert len(prune(store).blobs.removed) == 3  # manifest, config, layer
