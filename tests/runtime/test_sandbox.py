"""The sandbox a RUN step and ``imageforge run`` get, attacked for real: a busybox rootfs
with a small static probe program (``sandbox_probe.c``) in real runc, against this
machine's real cgroups, network and keyrings. Each attack is also shown to work where
the defence is switched off on purpose (host network, an unconfined seccomp), so no test
passes because the attack itself was broken."""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from imageforge.errors import Conflict
from imageforge.runtime import (
    OciRuntime,
    PortMapping,
    Process,
    Security,
    StdIO,
    build_spec,
    etc_mounts,
    find_runtime,
    resolve_user,
)
from tests.builder.conftest import _busybox_rootfs
from tests.conftest import need_binary, requires_root, tcp_server

pytestmark = requires_root

PROBE_SOURCE = Path(__file__).with_name("sandbox_probe.c")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("probe") / "probe"
    proc = subprocess.run(
        [need_binary("gcc"), "-static", "-O2", "-o", str(out), str(PROBE_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, (
        f"cannot build the probe (make setup installs libc6-dev):\n{proc.stderr}"
    )
    return out


@pytest.fixture
def rootfs(tmp_path: Path, probe: Path) -> Path:
    root = tmp_path / "rootfs"
    _busybox_rootfs(root)
    shutil.copy2(probe, root / "bin" / "probe")
    (root / "imageforge-probe-mnt").mkdir()
    return root


@pytest.fixture
def runc() -> OciRuntime:
    need_binary("runc")
    return find_runtime("runc")


def _run(
    runc: OciRuntime,
    rootfs: Path,
    args: Sequence[str],
    *,
    network: str = "none",
    security: Security | None = None,
    publish: Sequence[PortMapping] = (),
    uid: int = 0,
) -> tuple[int, str]:
    """Exit code and output (stdout and stderr together) of ``args`` in a container."""
    etc = rootfs.parent / f"etc-{network}"
    out = rootfs.parent / "out"
    with out.open("wb") as f:
        status = runc.run(
            rootfs,
            Process(args=list(args), uid=uid, gid=uid),
            mounts=etc_mounts(etc, "box", network),
            io=StdIO(stdout=f, stderr=f),
            network=network,
            security=security,
            publish=publish,
        )
    assert status.runtime_error is None, status.runtime_error
    return status.code, out.read_text()


def _sh(
    runc: OciRuntime,
    rootfs: Path,
    script: str,
    *,
    network: str = "none",
    security: Security | None = None,
) -> str:
    _, out = _run(runc, rootfs, ["/bin/sh", "-c", script], network=network, security=security)
    return out


# --- finding 1: /sys and the cgroups ---------------------------------------------------

CGROUP_ESCAPE = """\
exec 2>&1
cat /proc/self/cgroup
for f in /sys/fs/cgroup/devices/cgroup.procs /sys/fs/cgroup/cgroup.procs \\
         /sys/fs/cgroup/unified/cgroup.procs; do
  [ -e "$f" ] && { echo $$ > "$f" && echo "MOVED via $f"; }
done
[ -e /sys/fs/cgroup/devices/devices.allow ] && \\
  { echo a > /sys/fs/cgroup/devices/devices.allow && echo ALLOWED-ALL-DEVICES; }
mkdir /sys/fs/cgroup/devices/escape 2>&1 && echo MADE-A-CGROUP
touch /sys/fs/cgroup/planted && echo CGROUP-TMPFS-WRITABLE
touch /sys/kernel/planted && echo SYSFS-WRITABLE
mknod /tmp/disk b MAJOR MINOR && head -c 512 /tmp/disk > /dev/null && echo READ-THE-DISK
echo done
"""


@pytest.mark.parametrize("network", ["host", "private", "none"])
def test_a_container_cannot_leave_its_cgroup(runc: OciRuntime, rootfs: Path, network: str) -> None:
    """The reported attack: with the host's /sys bind-mounted, a RUN step wrote its pid
    into the host's root devices cgroup and then opened a device its own cgroup denied.
    Now /sys is a fresh read-only sysfs, /sys/fs/cgroup a read-only cgroup mount in a
    cgroup namespace of the container's own, so every write is refused."""
    dev = os.stat("/").st_dev  # the host's root disk, the device worth stealing
    script = CGROUP_ESCAPE.replace("MAJOR", str(os.major(dev))).replace("MINOR", str(os.minor(dev)))
    out = _sh(runc, rootfs, script, network=network)
    assert "\ndone\n" in out, out
    for success in (
        "MOVED",
        "ALLOWED-ALL-DEVICES",
        "MADE-A-CGROUP",
        "CGROUP-TMPFS-WRITABLE",
        "SYSFS-WRITABLE",
        "READ-THE-DISK",
    ):
        assert success not in out, out
    assert "Read-only file system" in out
    # a cgroup namespace: the container's own cgroup is its root in every hierarchy
    paths = [m.group(1) for m in re.finditer(r"^\d+:[^:\n]*:(.*)$", out, re.M)]
    assert paths and set(paths) == {"/"}, out


def test_sys_is_a_fresh_read_only_sysfs(runc: OciRuntime, rootfs: Path) -> None:
    out = _sh(runc, rootfs, "cat /proc/self/mountinfo; ls /sys/class/net")
    mounts = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 6 and "-" in fields:
            sep = fields.index("-")
            mounts[fields[4]] = (fields[5].split(","), fields[sep + 1])
    assert mounts["/sys"] == (mounts["/sys"][0], "sysfs") and "ro" in mounts["/sys"][0]
    cgroup = {p: m for p, m in mounts.items() if p.startswith("/sys/fs/cgroup")}
    assert cgroup and all("ro" in opts for opts, _ in cgroup.values()), cgroup
    assert out.split()[-1] == "lo"  # this namespace's devices, not the host's


def test_spec_masks_powercap_and_keeps_cgroups_read_only(tmp_path: Path) -> None:
    spec = build_spec(tmp_path, Process(args=["true"]), network="host")
    linux = spec["linux"]
    assert "/sys/devices/virtual/powercap" in linux["maskedPaths"]
    assert "/sys/fs/cgroup" in linux["readonlyPaths"]
    assert {"type": "cgroup"} in linux["namespaces"]
    assert not any(ns["type"] == "network" for ns in linux["namespaces"])
    sys_mounts = [m for m in spec["mounts"] if m["destination"].startswith("/sys")]
    assert sys_mounts == [
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]
    rootless_host = build_spec(tmp_path, Process(args=["true"]), network="host", bind_host_sys=True)
    assert rootless_host["mounts"][-2]["options"] == ["rbind", "nosuid", "noexec", "nodev", "rro"]


def test_masked_paths_read_empty(runc: OciRuntime, rootfs: Path, tmp_path: Path) -> None:
    """Every masked path this host has (powercap's energy counters, a power side channel,
    where the machine exposes them) reads as nothing in the container."""
    masked = build_spec(tmp_path, Process(args=["true"]))["linux"]["maskedPaths"]
    present = [p for p in masked if os.path.exists(p)]
    assert "/proc/keys" in present
    script = "; ".join(
        f"if [ -d {p} ]; then echo {p} $(ls -A {p} | wc -l); else echo {p} $(wc -c < {p}); fi"
        for p in present
    )
    out = _sh(runc, rootfs, script, network="host")
    assert sorted(out.split("\n")[:-1]) == sorted(f"{p} 0" for p in present), out


# --- finding 3: seccomp ----------------------------------------------------------------

ATTEMPTS = (
    "keyctl",
    "add_key",
    "request_key",
    "unshare-user",
    "unshare-mount",
    "clone-user",
    "clone3-user",
    "mount",
)


def _attempts(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_namespaces_mounts_and_keyrings_are_refused(runc: OciRuntime, rootfs: Path) -> None:
    code, out = _run(runc, rootfs, ["/bin/probe", *ATTEMPTS])
    assert code == 0, out
    assert _attempts(out) == {
        "keyctl": "EPERM",
        "add_key": "EPERM",
        "request_key": "EPERM",
        "unshare-user": "EPERM",
        "unshare-mount": "EPERM",
        "clone-user": "EPERM",
        "clone3-user": "ENOSYS",  # so that libc falls back to clone, which is filtered
        "mount": "EPERM",
    }
    assert "Seccomp:\t2" in _sh(runc, rootfs, "grep Seccomp: /proc/self/status")
    # busybox's own unshare, as a Dockerfile would call it
    out = _sh(runc, rootfs, "unshare -U true; echo rc=$?; unshare -m true; echo rc=$?")
    assert out.count("Operation not permitted") == 2 and "rc=0" not in out, out


def test_i386_syscalls_meet_the_rules_and_x32_ones_are_killed(
    runc: OciRuntime, rootfs: Path
) -> None:
    """The default filter covers the native ABI and the 32-bit one images still use; an
    x32 syscall (an ABI no image uses) kills the process instead of reaching the kernel."""
    code, out = _run(runc, rootfs, ["/bin/probe", "i386-getpid", "x32-getpid"])
    assert code == 0, out
    if platform.machine() == "x86_64":
        assert _attempts(out) == {"i386-getpid": "ok", "x32-getpid": "killed by SYS"}
    else:
        assert _attempts(out) == {"i386-getpid": "ENOSYS", "x32-getpid": "ENOSYS"}


def test_unconfined_is_the_explicit_way_out(runc: OciRuntime, rootfs: Path) -> None:
    """Without the filter the same attempts get through: the refusals above are the
    filter's doing (mounts stay refused: no CAP_SYS_ADMIN)."""
    code, out = _run(runc, rootfs, ["/bin/probe", *ATTEMPTS], security=Security("unconfined"))
    assert code == 0, out
    got = _attempts(out)
    assert got["keyctl"] == "ok" and got["add_key"] == "ok"
    assert got["unshare-user"] == "ok" and got["clone-user"] == "ok"
    assert got["mount"] == "EPERM"
    assert "Seccomp:\t0" in _sh(
        runc, rootfs, "grep Seccomp: /proc/self/status", security=Security("unconfined")
    )


def test_a_profile_file_replaces_the_default(
    runc: OciRuntime, rootfs: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {
                        "names": ["mkdir", "mkdirat"],
                        "action": "SCMP_ACT_ERRNO",
                        "errnoRet": errno.EACCES,
                    }
                ],
            }
        )
    )
    out = _sh(runc, rootfs, "mkdir /tmp/x; /bin/probe keyctl", security=Security(str(profile)))
    assert "Permission denied" in out  # the file's rule
    assert "keyctl: ok" in out  # and only the file's: the default's rules are not added


# --- finding 2: the network ------------------------------------------------------------


def _host_ipv4() -> list[str]:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines()]


def test_private_network_cannot_reach_the_hosts_loopback(runc: OciRuntime, rootfs: Path) -> None:
    """A service on the host's 127.0.0.1 (a registry, a database, a metadata proxy) is out
    of reach: through slirp's gateway 10.0.2.2, through 127.0.0.1, through every address
    of the host."""
    with tcp_server("127.0.0.1") as server:
        targets = ["10.0.2.2", *_host_ipv4()]
        script = "; ".join(f"nc -w 2 {t} {server.port} </dev/null" for t in targets)
        out = _sh(runc, rootfs, script, network="private")
        assert "hello" not in out and server.accepted == 0, out
        # the control: the host's network reaches it
        out = _sh(runc, rootfs, f"nc -w 2 127.0.0.1 {server.port} </dev/null", network="host")
        assert "hello" in out and server.accepted == 1


def test_private_network_has_outbound_access(runc: OciRuntime, rootfs: Path) -> None:
    """What the host reaches (here: a server on the host's own non-loopback address) the
    container reaches through slirp4netns, with DNS through slirp's forwarder."""
    public = [a for a in _host_ipv4() if not a.startswith("127.")]
    assert public, "this machine has no non-loopback IPv4 address to test with"
    with tcp_server("0.0.0.0") as server:
        out = _sh(
            runc,
            rootfs,
            "ls /sys/class/net; cat /etc/resolv.conf; "
            f"nc -w 5 {public[0]} {server.port} </dev/null",
            network="private",
        )
    assert out.split()[:2] == ["lo", "tap0"], out
    assert "hello" in out and server.accepted == 1, out
    nameservers = [line.split()[1] for line in out.splitlines() if line.startswith("nameserver")]
    assert nameservers[0] == "10.0.2.3"
    assert not any(ns.startswith("127.") or ":" in ns for ns in nameservers), nameservers


def test_raw_sockets_see_only_the_containers_own_traffic(runc: OciRuntime, rootfs: Path) -> None:
    """The reported attack: with CAP_NET_RAW in the host's network namespace a RUN step
    read another client's registry credentials off the loopback. In a private namespace
    the same raw socket sees nothing of the host's traffic."""
    marker = "Authorization: Basic aW1hZ2Vmb3JnZTpzZWNyZXQ="
    stop = threading.Event()
    with tcp_server("127.0.0.1") as server:

        def client() -> None:
            while not stop.is_set():
                with socket.create_connection(("127.0.0.1", server.port)) as conn:
                    conn.sendall(f"GET /v2/ HTTP/1.1\r\n{marker}\r\n\r\n".encode())
                time.sleep(0.05)

        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        try:
            sniff = ["/bin/probe", f"sniff:{marker}:3"]
            private = _run(runc, rootfs, sniff, network="private")[1]
            host = _run(runc, rootfs, sniff, network="host")[1]
        finally:
            stop.set()
            thread.join()
    assert private == "sniff: nothing\n"
    assert host == "sniff: saw\n"  # the control: the attack works on the host's network


def _slirps_for_this_process() -> list[str]:
    mine = f"/proc/{os.getpid()}/fd/"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                cmdline
                and cmdline[0].endswith(b"slirp4netns")
                and any(arg.decode(errors="replace").startswith(mine) for arg in cmdline)
            ):
                found.append(entry.name)
    return found


def _slirps_left() -> list[str]:
    """The slirp4netns processes still serving this process's namespaces, once those
    that are exiting (tearing down their tap device) had a moment to go."""
    deadline = time.monotonic() + 10
    while _slirps_for_this_process() and time.monotonic() < deadline:
        time.sleep(0.05)
    return _slirps_for_this_process()


def test_nothing_of_the_private_network_stays_behind(runc: OciRuntime, rootfs: Path) -> None:
    before = set(os.listdir("/proc/self/fd"))
    code, _ = _run(runc, rootfs, ["/bin/sh", "-c", "exit 3"], network="private")
    assert code == 3
    assert _slirps_left() == []
    assert set(os.listdir("/proc/self/fd")) <= before  # the namespace descriptor is closed


def test_published_port_reaches_the_container(runc: OciRuntime, rootfs: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mapping = PortMapping(host_port=port, container_port=8080, host_ip="127.0.0.1")
    result: list[tuple[int, str]] = []
    serve = threading.Thread(
        target=lambda: result.append(
            _run(
                runc,
                rootfs,
                ["/bin/sh", "-c", "echo from-the-container | nc -l -p 8080"],
                network="private",
                publish=[mapping],
            )
        )
    )
    serve.start()
    answer = b""
    deadline = time.monotonic() + 30
    while not answer and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                answer = conn.recv(100)
        except OSError:
            time.sleep(0.1)
    serve.join(timeout=30)
    assert answer == b"from-the-container\n"
    assert result and result[0][0] == 0


def test_a_port_in_use_is_a_clear_error(runc: OciRuntime, rootfs: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        mapping = PortMapping(host_port=port, container_port=80, host_ip="127.0.0.1")
        with pytest.raises(Conflict) as info:
            _run(runc, rootfs, ["true"], network="private", publish=[mapping])
    assert f"cannot publish 127.0.0.1:{port}->80/tcp" in info.value.message
    assert info.value.hint == "pick another host port (-p HOST:CONTAINER)"
    assert _slirps_left() == []


# --- finding 7: supplementary groups ---------------------------------------------------


def test_the_primary_group_is_a_supplementary_group(runc: OciRuntime, rootfs: Path) -> None:
    """As Docker and buildah: ``id`` lists the primary group in ``groups=``."""
    with (rootfs / "etc" / "group").open("a") as f:
        f.write("staff:x:2000:app\n")
    lines = []
    for user in ("root", "app", "nobody", "app:staff"):
        uid, gid, groups = resolve_user(rootfs, user)
        out = rootfs.parent / "id.out"
        with out.open("wb") as f:
            status = runc.run(
                rootfs,
                Process(args=["id"], uid=uid, gid=gid, additional_gids=groups),
                io=StdIO(stdout=f, stderr=f),
            )
        assert status.ok
        lines.append(out.read_text().strip())
    assert lines == [
        "uid=0(root) gid=0(root) groups=0(root)",
        "uid=1000(app) gid=1000(app) groups=1000(app),2000(staff)",
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)",
        "uid=1000(app) gid=2000(staff) groups=2000(staff)",
    ]
