"""busybox from Debian's busybox-static: a valid, reproducible image that skopeo, umoci
and podman accept, with every applet, root and nobody, and Docker Hub's directories."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imageforge.bootstrap import busybox_applets, busybox_image
from imageforge.errors import InvalidArgument
from imageforge.layers import EntryType, open_layer
from imageforge.oci import Image, host_platform
from imageforge.oci.validate import validate_image
from imageforge.progress import RecordingProgress
from imageforge.runtime import find_static_busybox
from imageforge.store import Store
from imageforge.transports import TransportRef, write_image
from tests.bootstrap.conftest import Podman, run, umoci_unpack
from tests.conftest import need_binary

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Image]:
    store = Store(tmp_path_factory.mktemp("bbstore"))
    return store, busybox_image(store)


def _host_applets() -> list[str]:
    busybox = find_static_busybox()
    assert busybox is not None, "busybox-static is not installed; 'make setup' installs it"
    return busybox_applets(busybox)


def test_image_is_valid_with_the_config_docker_hub_gives(made: tuple[Store, Image]) -> None:
    _, image = made
    validate_image(image)
    config = image.config().data
    assert config["config"] == {"Env": [PATH], "Cmd": ["sh"]}
    plat = host_platform()
    assert (config["os"], config["architecture"]) == (plat.os, plat.architecture)
    [history] = config["history"]
    assert history["created_by"].startswith("imageforge bootstrap busybox (busybox-static 1:")
    assert history["created"] == config["created"]
    assert len(image.layers()) == 1


def test_layer_holds_busybox_links_users_and_directories(made: tuple[Store, Image]) -> None:
    _, image = made
    layer = image.layers()[0]
    entries = {}
    with layer.open_compressed() as raw, open_layer(raw, media_type=layer.media_type) as reader:
        for entry in reader:
            entries[entry.path] = (entry, reader.read() if entry.size else b"")
    busybox, _ = entries["bin/busybox"]
    assert busybox.type is EntryType.FILE and busybox.mode == 0o755 and busybox.size > 500_000
    applets = [a for a in _host_applets() if a != "bin/busybox"]
    assert len(applets) > 200
    for applet in applets:
        entry, _ = entries[applet]
        assert entry.type is EntryType.HARDLINK and entry.linkname == "bin/busybox", applet
    assert entries["etc/passwd"][1] == (
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
    )
    assert entries["etc/group"][1] == b"root:x:0:\nnobody:x:65534:\n"
    modes = {p: e.mode for p, (e, _) in entries.items() if e.type is EntryType.DIR}
    assert modes["tmp"] == 0o1777 and modes["root"] == 0o700
    for empty in ("dev", "proc", "sys", "home", "var", "tmp", "root"):
        assert empty in modes, empty
        assert not any(p.startswith(empty + "/") for p in entries), empty
    assert {(e.uid, e.gid) for e, _ in entries.values()} == {(0, 0)}
    assert len({e.mtime for e, _ in entries.values()}) == 1


def test_second_run_and_a_fresh_download_give_the_same_digest(
    made: tuple[Store, Image], tmp_path: Path
) -> None:
    store, image = made
    assert busybox_image(store).digest == image.digest
    progress = RecordingProgress()
    downloaded = busybox_image(Store(tmp_path / "other"), source="download", progress=progress)
    assert downloaded.digest == image.digest
    notes = [e.text or "" for e in progress.events if e.kind == "note"]
    assert any("downloaded busybox-static" in n for n in notes), notes


def test_source_date_epoch_sets_created_and_every_mtime(
    made: tuple[Store, Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, image = made
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pinned = busybox_image(store)
    assert pinned.digest != image.digest
    assert pinned.config().data["created"] == "2023-11-14T22:13:20Z"
    layer = pinned.layers()[0]
    with layer.open_compressed() as raw, open_layer(raw, media_type=layer.media_type) as reader:
        assert {e.mtime for e in reader} == {1700000000}
    assert busybox_image(store).digest == pinned.digest


def test_unknown_source_is_refused(made: tuple[Store, Image]) -> None:
    store, _ = made
    with pytest.raises(InvalidArgument, match="unknown busybox source"):
        busybox_image(store, source="mirror")  # type: ignore[arg-type]


@pytest.mark.slow
def test_oci_export_passes_skopeo_and_umoci(made: tuple[Store, Image], tmp_path: Path) -> None:
    store, image = made
    need_binary("skopeo")
    layout = tmp_path / "layout"
    write_image(image, TransportRef("oci", str(layout), "latest"), store)
    info = run("skopeo", "inspect", f"oci:{layout}:latest")
    assert image.digest.hex in info
    rootfs = umoci_unpack(layout, "latest", tmp_path / "bundle")
    binary = rootfs / "bin" / "busybox"
    for applet in _host_applets():
        assert os.path.samefile(rootfs / applet, binary), applet
    assert (rootfs / "etc" / "passwd").read_text().startswith("root:x:0:0:root:/root:/bin/sh\n")
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((rootfs / "root").stat().st_mode) == 0o700


@pytest.mark.slow
def test_podman_runs_the_docker_archive(
    made: tuple[Store, Image], tmp_path: Path, podman: Podman
) -> None:
    store, image = made
    archive = tmp_path / "busybox.tar"
    write_image(image, TransportRef("docker-archive", str(archive), "busybox:latest"), store)
    podman("load", "-q", "-i", str(archive))
    out = podman("run", "--rm", "--network", "none", "busybox:latest", "busybox", "echo", "hi")
    assert out == "hi\n"
    who = podman("run", "--rm", "--network", "none", "--user", "nobody", "busybox:latest", "id")
    assert who.strip() == "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)"
    # Cmd ["sh"] and PATH: a bare command line goes to the shell, applets are found.
    out = podman("run", "--rm", "--network", "none", "busybox:latest", "sh", "-c", "which wget")
    assert out == "/usr/bin/wget\n"
