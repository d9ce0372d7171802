"""USER resolution, /etc files and image-config processes, checked in a real container."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.runtime import (
    StdIO,
    etc_mounts,
    find_runtime,
    find_static_busybox,
    image_process,
    resolve_user,
)
from tests.conftest import need_binary, requires_root

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
    "svc:x:1001:1001::/:/bin/sh\n"
)
GROUP = "root:x:0:\napp:x:1000:\nsvc:x:1001:\nwheel:x:10:app,svc\naudio:x:29:app\n"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", (0, 0, (0,))),
        ("root", (0, 0, (0,))),
        ("app", (1000, 1000, (1000, 10, 29))),
        ("1001", (1001, 1001, (1001, 10))),
        ("4242", (4242, 0, (0,))),
        ("app:wheel", (1000, 10, (10,))),
        ("app:77", (1000, 77, (77,))),
        ("4242:4243", (4242, 4243, (4243,))),
    ],
)
def test_resolve_user(rootfs: Path, user: str, expected: tuple[int, int, tuple[int, ...]]) -> None:
    assert resolve_user(rootfs, user) == expected


def test_unknown_names_are_errors(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="unable to find user nobody"):
        resolve_user(rootfs, "nobody")
    with pytest.raises(InvalidArgument, match="unable to find group staff"):
        resolve_user(rootfs, "app:staff")


def test_no_user_is_root_even_without_passwd(tmp_path: Path) -> None:
    assert resolve_user(tmp_path, "") == (0, 0, (0,))
    with pytest.raises(InvalidArgument, match="unable to find user root"):
        resolve_user(tmp_path, "root")


def test_passwd_behind_a_symlink_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "host-passwd"
    outside.write_text("evil:x:0:0::/:/bin/sh\n")
    (root / "etc" / "passwd").symlink_to(outside)
    with pytest.raises(InvalidArgument, match="unable to find user evil"):
        resolve_user(root, "evil")


def test_image_process_from_config(rootfs: Path) -> None:
    config = {
        "Entrypoint": ["/bin/app"],
        "Cmd": ["--serve"],
        "Env": ["PATH=/opt/bin", "MODE=prod"],
        "WorkingDir": "/srv",
        "User": "app",
    }
    proc = image_process(config, rootfs)
    assert list(proc.args) == ["/bin/app", "--serve"]
    assert proc.env["PATH"] == "/opt/bin" and proc.env["MODE"] == "prod"
    assert (proc.cwd, proc.uid, proc.gid) == ("/srv", 1000, 1000)
    over = image_process(config, rootfs, command=["--check"], env={"MODE": "dev"}, user="0")
    assert list(over.args) == ["/bin/app", "--check"]
    assert over.env["MODE"] == "dev" and over.uid == 0


def test_no_command_is_an_error(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="no command to run"):
        image_process({}, rootfs)


def test_etc_files_for_network_none(tmp_path: Path) -> None:
    mounts = etc_mounts(tmp_path / "etc", "box", "none")
    assert [m.destination for m in mounts] == ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
    assert (tmp_path / "etc" / "resolv.conf").read_text() == ""
    assert "127.0.1.1\tbox" in (tmp_path / "etc" / "hosts").read_text()


@requires_root
def test_user_and_etc_files_inside_a_real_container(rootfs: Path, tmp_path: Path) -> None:
    need_binary("runc")
    busybox = find_static_busybox()
    assert busybox is not None, "busybox-static is not installed; 'make setup' installs it"
    (rootfs / "bin").mkdir()
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    (rootfs / "etc" / "hostname").write_text("image-own-hostname\n")
    for name in ("hosts", "resolv.conf"):
        (rootfs / "etc" / name).write_text("")
    config = {
        "Cmd": ["/bin/busybox", "sh", "-c", "id -u; id -g; id -G; cat /etc/hostname"],
        "User": "app",
    }
    proc = image_process(config, rootfs)
    out = tmp_path / "out"
    with out.open("wb") as f:
        status = find_runtime("runc").run(
            rootfs,
            proc,
            mounts=etc_mounts(tmp_path / "etcfiles", "box", "none"),
            io=StdIO(stdout=f, stderr=f),
            hostname="box",
        )
    assert status.ok, out.read_text()
    assert out.read_text().split("\n")[:4] == ["1000", "1000", "1000 10 29", "box"]
    # the image's own file is untouched: the container saw a bind mount
    assert (rootfs / "etc" / "hostname").read_text() == "image-own-hostname\n"
