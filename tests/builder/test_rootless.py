"""Rootless builds: an unprivileged user with /etc/subuid and /etc/subgid ranges
bootstraps busybox, builds and runs an image through a user namespace, with the store
under their home. The user is made for the test and removed with its home afterwards
(see ``rootless_user``)."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builder.rootless_user import (
    SUBUID,
    Code,
    UserCli,
    cli_for,
    make_user,
    readable_code,
    remove_user,
    subid_ranges,
)
from tests.conftest import need_binary, requires_root, run_cli, tcp_server

pytestmark = [pytest.mark.slow, requires_root]


@pytest.fixture(scope="module")
def user_code() -> Iterator[Code]:
    with readable_code() as code:
        yield code


@pytest.fixture(scope="module")
def rootless(user_code: Code) -> Iterator[UserCli]:
    need_binary("newuidmap")
    need_binary("useradd")
    user = make_user(with_ranges=True)
    try:
        yield cli_for(user, user_code)
    finally:
        remove_user(user)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args[-3:]}: exit {proc.returncode}\n{proc.stderr}"
    return proc


DOCKERFILE = """\
FROM busybox
COPY hello.txt /app/hello.txt
RUN mkdir /data && id -u > /data/uid && cp /app/hello.txt /data/copy \\
 && touch /data/owned && chown 1000:1000 /data/owned \\
 && rm -rf /tmp && mkdir -m 1777 /tmp && echo new > /tmp/new
CMD ["sh", "-c", "cat /data/uid /data/copy; stat -c '%u:%g %n' /data/owned; id -u"]
"""


def _layer_members(layout: Path, index: int) -> dict[str, tarfile.TarInfo]:
    """The tar members of layer ``index`` of the one image in an OCI layout."""
    blobs = layout / "blobs" / "sha256"
    top = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / top["manifests"][0]["digest"][7:]).read_text())
    data = (blobs / manifest["layers"][index]["digest"][7:]).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


def test_unprivileged_user_builds_and_runs_busybox(rootless: UserCli, tmp_path: Path) -> None:
    user = rootless.user
    ok(rootless(["bootstrap", "busybox", "-t", "busybox:latest"], env=EPOCH))
    context = user.home / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "hello.txt").write_text("hello rootless\n")
    shutil.chown(context, user.uid, user.gid)
    for p in context.iterdir():
        shutil.chown(p, user.uid, user.gid)

    digest = ok(rootless(["build", str(context), "-t", "rootless:1"], env=EPOCH)).stdout.strip()
    assert digest.startswith("sha256:")
    # Root building the same context gets the very same image: ids, whiteouts, no xattrs.
    root_store = str(tmp_path / "root-store")
    ok(run_cli(["--root", root_store, "bootstrap", "busybox", "-t", "busybox:latest"], env=EPOCH))
    as_root = ok(run_cli(["--root", root_store, "build", str(context), "-t", "r:1"], env=EPOCH))
    assert as_root.stdout.strip() == digest
    out = ok(rootless(["run", "rootless:1"])).stdout
    assert out.splitlines() == ["0", "hello rootless", "1000:1000 /data/owned", "0"]
    assert ok(rootless(["run", "rootless:1", "id", "-u"])).stdout == "0\n"
    # A network namespace of its own (only lo), made inside the user namespace.
    isolated = ["run", "--network", "none", "rootless:1", "sh", "-c", "ip -o link | wc -l"]
    assert ok(rootless(isolated)).stdout.strip() == "1"

    # The store is the user's, under their home, and nothing of theirs is owned by root.
    store = user.store
    assert (store / "refs.db").is_file()
    for path in (store, store / "refs.db", store / "blobs"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (user.uid, user.gid), path
    # A file the RUN chowned to 1000 is one of the user's subordinate ids on disk.
    sub_start = subid_ranges(SUBUID, user.name)[0][0]
    owned = list((store / "snapshots" / "l").glob("*/data/owned"))
    assert len(owned) == 1
    assert owned[0].stat().st_uid == sub_start + 999

    # The layer records the ids as the container saw them, and overlay's markers as OCI
    # whiteouts, with none of overlay's private xattrs.
    layout = user.home / "out"
    ok(rootless(["export", "rootless:1", f"oci:{layout}:1"]))
    run_layer = _layer_members(layout, 2)
    assert (run_layer["data/uid"].uid, run_layer["data/uid"].gid) == (0, 0)
    assert (run_layer["data/owned"].uid, run_layer["data/owned"].gid) == (1000, 1000)
    assert "tmp/.wh..wh..opq" in run_layer
    assert run_layer["tmp/new"].uid == 0
    for member in run_layer.values():
        assert not any("overlay." in key for key in member.pax_headers), member.name
    copy_layer = _layer_members(layout, 1)
    assert copy_layer["app/hello.txt"].uid == 0


def test_unprivileged_bind_mount_of_the_context_hides_what_dockerignore_leaves_out(
    rootless: UserCli,
) -> None:
    user = rootless.user
    ok(rootless(["bootstrap", "busybox", "-t", "busybox:latest"], env=EPOCH))
    context = user.home / "ignoring"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN --mount=type=bind,target=/src sh -c 'ls -A /src; cat /src/.env 2>&1; true' > /seen\n"
    )
    (context / ".dockerignore").write_text(".env\nDockerfile\n.dockerignore\n")
    (context / "hello.txt").write_text("hello\n")
    (context / ".env").write_text("TOKEN=secret\n")
    for p in [context, *context.iterdir()]:
        shutil.chown(p, user.uid, user.gid)
    ok(rootless(["build", str(context), "-t", "ignoring:1"]))
    out = ok(rootless(["run", "ignoring:1", "cat", "/seen"])).stdout
    assert out == "hello.txt\ncat: can't open '/src/.env': No such file or directory\n"


def test_system_check_probes_inside_the_user_namespace(rootless: UserCli) -> None:
    user = rootless.user
    proc = rootless(["system", "check", "--format", "json", "--progress", "quiet"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    items = {it["name"]: it for it in report["items"]}
    assert report["root"] == str(user.store)
    assert items["runtime.runc"]["ok"] and items["overlayfs"]["ok"], items
    rootless_item = items["rootless"]
    assert rootless_item["ok"] is True
    assert rootless_item["data"]["in_user_namespace"] is True
    assert (rootless_item["data"]["user"], rootless_item["data"]["uid"]) == (user.name, user.uid)
    start, count = subid_ranges(SUBUID, user.name)[0]
    assert rootless_item["data"]["subuids"] == [[start, count]]
    assert f"running rootless as {user.name}" in rootless_item["summary"]


def test_user_without_subordinate_ids_is_told_how_to_add_them(user_code: Code) -> None:
    user = make_user(with_ranges=False)
    try:
        cli = cli_for(user, user_code)
        proc = cli(["build", "-t", "x:1", str(user.home)])
        assert proc.returncode == 10, proc.stderr
        assert f"user {user.name} has no subordinate id range in /etc/subuid" in proc.stderr
        assert "hint: as root: usermod --add-subuids" in proc.stderr
        assert not user.store.exists()
        # Help and commands that only read need no namespace.
        assert cli(["build", "--help"]).returncode == 0
        images = cli(["images", "--format", "json"])
        assert images.returncode == 0, images.stderr
        assert json.loads(images.stdout) == []
        # system check still reports, and says what is missing.
        check = cli(["system", "check", "--format", "json", "--progress", "quiet"])
        assert check.returncode == 10
        items = {it["name"]: it for it in json.loads(check.stdout)["items"]}
        assert items["rootless"]["ok"] is False
        assert "usermod --add-subuids" in items["rootless"]["hint"]
        assert "rootless mode is not set up for this user" in check.stderr
    finally:
        remove_user(user)


def test_what_a_user_namespace_cannot_unpack(rootless: UserCli, tmp_path: Path) -> None:
    """A device node is skipped (the kernel makes none in a user namespace); a file
    owned by an id beyond the user's ranges is a clear error, and nothing half-unpacked
    stays in the store."""
    user = rootless.user
    busybox = shutil.which("busybox")
    assert busybox is not None

    def device(root: Path) -> None:
        os.mknod(root / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))

    def far_owner(root: Path) -> None:
        os.chown(root / "far", 70000, 70000)

    layouts = {}
    for name, setup in (("device", device), ("farid", far_owner)):
        rootfs = tmp_path / name
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "dev").mkdir()
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        (rootfs / "far").write_text("far\n")
        setup(rootfs)
        store = tmp_path / f"store-{name}"
        ok(run_cli(["--root", str(store), "import", f"rootfs:{rootfs}", "-t", f"{name}:1"]))
        layout = user.home / f"layout-{name}"
        ok(run_cli(["--root", str(store), "export", f"{name}:1", f"oci:{layout}:1"]))
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(layout)], check=True)
        layouts[name] = layout

    ran = rootless(["run", f"oci:{layouts['device']}:1", "/bin/busybox", "cat", "/far"])
    assert (ran.returncode, ran.stdout) == (0, "far\n"), ran.stderr

    failed = rootless(["run", f"oci:{layouts['farid']}:1", "/bin/busybox", "true"])
    assert failed.returncode == 9, failed.stderr
    assert "'far' is owned by 70000:70000, an id this user namespace does not map" in (
        failed.stderr
    )
    assert "usermod --add-subuids" in failed.stderr
    assert not list((user.store / "snapshots" / "l").glob(".tmp-*"))


def test_debootstrap_is_refused_rootless_with_the_way_round(rootless: UserCli) -> None:
    proc = rootless(["bootstrap", "debian", "--slim", "-t", "deb:1"])
    assert proc.returncode == 10, proc.stderr
    assert "which root in a user namespace (rootless mode) is not" in proc.stderr
    assert "'imageforge import' it as the user" in proc.stderr


def test_rootless_containers_get_the_same_sandbox(rootless: UserCli) -> None:
    """A private network made inside the user namespace (slirp4netns there too), the
    seccomp filter, and with the host's network (where no fresh sysfs can be mounted)
    the host's /sys read-only all the way down: the cgroup escape is refused."""
    ok(rootless(["bootstrap", "busybox", "-t", "busybox:latest"], env=EPOCH))
    nets = ok(rootless(["run", "busybox", "ls", "/sys/class/net"])).stdout
    assert nets.split() == ["lo", "tap0"]
    with tcp_server("127.0.0.1") as server:
        probe = f"nc -w 2 10.0.2.2 {server.port} </dev/null; nc -w 2 127.0.0.1 {server.port}"
        ok(rootless(["run", "busybox", "sh", "-c", f"{probe}; true"]))
        assert server.accepted == 0
    userns = rootless(["run", "busybox", "unshare", "-U", "true"])
    assert userns.returncode == 1 and "Operation not permitted" in userns.stderr
    escape = (
        "exec 2>&1; for f in /sys/fs/cgroup/devices/cgroup.procs /sys/fs/cgroup/cgroup.procs "
        '/sys/fs/cgroup/unified/cgroup.procs; do [ -e "$f" ] && { echo $$ > "$f" && '
        'echo "MOVED via $f"; }; done; touch /sys/kernel/planted && echo SYSFS-WRITABLE; '
        "touch /sys/fs/cgroup/planted && echo CGROUP-TMPFS-WRITABLE; "
        "mkdir /sys/fs/cgroup/devices/escape && echo MADE-A-CGROUP; echo done"
    )
    out = ok(rootless(["run", "--network", "host", "busybox", "sh", "-c", escape])).stdout
    for success in ("MOVED", "SYSFS-WRITABLE", "CGROUP-TMPFS-WRITABLE", "MADE-A-CGROUP"):
        assert success not in out, out
    assert out.count("Read-only file system") == 4, out


def test_rootless_limits_are_refused_and_ulimits_still_work(rootless: UserCli) -> None:
    """cgroup v1 cannot be delegated to an unprivileged user: a limit that needs a cgroup
    is refused before anything starts, an rlimit needs none."""
    ok(rootless(["bootstrap", "busybox", "-t", "busybox:latest"], env=EPOCH))
    refused = rootless(["run", "--memory", "64m", "busybox", "true"])
    assert refused.returncode != 0
    assert "resource limits (--memory, --cpus, --pids-limit, ...) need cgroups" in refused.stderr
    assert "run as root" in refused.stderr
    out = ok(rootless(["run", "--ulimit", "nofile=64:128", "busybox", "sh", "-c", "ulimit -n"]))
    assert out.stdout.split() == ["64"]
