"""``run_container`` and ``run_image``: the one way a build's RUN and ``imageforge run``
start a container, in real runc."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import Image
from imageforge.runtime import (
    ContainerOptions,
    ImageCommand,
    Mount,
    PortMapping,
    Process,
    StdIO,
    find_runtime,
    mount_points,
    run_container,
    run_image,
)
from imageforge.store import Store
from imageforge.transports import open_source, select_platform, write_image
from tests.builder.conftest import _busybox_rootfs
from tests.conftest import need_binary, requires_root


@pytest.mark.parametrize("network", ["none", "host"])
def test_published_ports_need_the_private_network(network: str) -> None:
    with pytest.raises(
        InvalidArgument, match=f"needs the private network, not --network {network}"
    ):
        ContainerOptions(network=network, publish=[PortMapping(8080, 80)])
    assert ContainerOptions(network="private", publish=[PortMapping(8080, 80)]).publish


def test_an_unknown_network_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="network 'bridge' is not one of"):
        ContainerOptions(network="bridge")


def test_mount_points_are_the_runtime_s_and_the_mounts_deepest_first() -> None:
    points = mount_points(
        [Mount("/run/secrets/token", "bind", "/x"), Mount("/cache", "tmpfs", "tmpfs")]
    )
    assert {"proc", "sys", "dev", "etc", "etc/hosts", "etc/resolv.conf", "etc/hostname"} <= set(
        points
    )
    assert {"run", "run/secrets", "run/secrets/token", "cache"} <= set(points)
    depth = [p.count("/") for p in points]
    assert depth == sorted(depth, reverse=True)
    assert points.index("run/secrets/token") < points.index("run/secrets") < points.index("run")


@requires_root
def test_run_container_sets_up_what_its_options_say(tmp_path: Path) -> None:
    need_binary("runc")
    rootfs = tmp_path / "rootfs"
    _busybox_rootfs(rootfs)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("from the host\n")
    out = tmp_path / "out"
    script = "cat /etc/hostname /shared/note; wc -c < /etc/resolv.conf; ls /sys/class/net; exit 7"
    with out.open("wb") as f:
        status = run_container(
            find_runtime("runc"),
            rootfs,
            Process(args=["/bin/sh", "-c", script]),
            ContainerOptions(
                mounts=[Mount("/shared", "bind", str(shared), ("rbind", "ro"))],
                network="none",
                hostname="box",
                io=StdIO(stdout=f, stderr=f),
            ),
        )
    assert status.code == 7 and status.runtime_error is None
    assert out.read_text().split("\n")[:4] == ["box", "from the host", "0", "lo"]
    # written beside the rootfs and bind-mounted: the runtime left only an empty stand-in
    # for the mount point, at a path mount_points names
    assert (rootfs / "etc" / "hostname").read_text() == ""
    made = {p for p in mount_points([]) if (rootfs / p).exists()}
    assert {"etc/hostname", "etc/hosts", "etc/resolv.conf"} <= made


@pytest.fixture
def image(tmp_path: Path) -> tuple[Store, Image]:
    rootfs = tmp_path / "rootfs"
    _busybox_rootfs(rootfs)
    store = Store(tmp_path / "store")
    with open_source(f"rootfs:{rootfs}", store) as source:
        write_image(select_platform(source), "box:1", store)
    with open_source("box:1", store) as stored:
        return store, select_platform(stored)


@requires_root
def test_run_image_runs_a_command_in_a_fresh_container_and_removes_it(
    image: tuple[Store, Image], tmp_path: Path
) -> None:
    need_binary("runc")
    store, img = image
    out = tmp_path / "out"
    command = ImageCommand(
        args=["/bin/sh", "-c", "echo $GREETING; id -u; touch /left-behind; exit 4"],
        env={"GREETING": "hi"},
        user="app",
    )
    with out.open("wb") as f:
        status = run_image(
            store, img, command, ContainerOptions(network="none", io=StdIO(stdout=f, stderr=f))
        )
    assert status.code == 4
    assert out.read_text().splitlines()[:2] == ["hi", "1000"]
    snapshots = store.layout.snapshots
    assert os.listdir(snapshots / "active") == []  # the container's snapshot is gone
    assert len([p for p in os.listdir(snapshots / "l") if p != "empty"]) == 1  # kept unpacked
    with out.open("wb") as f:
        again = run_image(
            store,
            img,
            ImageCommand(args=["/bin/sh", "-c", "test ! -e /left-behind"]),
            ContainerOptions(network="none", io=StdIO(stdout=f, stderr=f)),
        )
    assert again.ok, out.read_text()
