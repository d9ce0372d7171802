"""The sandbox of RUN steps and ``imageforge run`` through the command line a user types:
the default private network, the network.host entitlement, the seccomp filter, the
cgroup escape of the security review, published ports. Real runc, real slirp4netns."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.bootstrap.conftest import DebianSlim
from tests.builder.conftest import ok
from tests.conftest import imageforge_cmd, requires_root, run_cli, tcp_server

pytestmark = [requires_root, pytest.mark.slow]


def _context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def _build(root: Path, ctx: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["--root", str(root), "build", str(ctx), "--progress", "plain", *args], timeout=300
    )


def _cat(root: Path, image: str, path: str) -> str:
    return ok(run_cli(["--root", str(root), "run", image, "cat", path])).stdout


def test_a_build_does_not_reach_the_hosts_loopback_by_default(
    tmp_path: Path, store_with_base: Path
) -> None:
    with tcp_server("127.0.0.1") as server:
        probe = f"nc -w 2 10.0.2.2 {server.port} </dev/null; nc -w 2 127.0.0.1 {server.port}"
        ctx = _context(tmp_path, f"FROM busybox\nRUN ({probe}) > /got 2>&1 || true\n")
        ok(_build(store_with_base, ctx, "-t", "probe:1"))
        assert server.accepted == 0
        assert "hello" not in _cat(store_with_base, "probe:1", "/got")
        # --network host on the command line is the user's explicit choice: it reaches
        ok(_build(store_with_base, ctx, "-t", "probe:2", "--network", "host", "--no-cache"))
        assert server.accepted == 1
        assert "hello" in _cat(store_with_base, "probe:2", "/got")


def test_run_network_host_in_a_dockerfile_needs_the_entitlement(
    tmp_path: Path, store_with_base: Path
) -> None:
    with tcp_server("127.0.0.1") as server:
        ctx = _context(
            tmp_path,
            "FROM busybox\nRUN echo FIRST-STEP-RAN\n"
            f"RUN --network=host nc -w 2 127.0.0.1 {server.port} > /got </dev/null\n",
        )
        refused = _build(store_with_base, ctx, "-t", "widened:1")
        assert refused.returncode == 8, refused.stderr
        assert (
            f"{ctx / 'Dockerfile'}:3: RUN --network=host needs the network.host entitlement, "
            "which this build was not given" in refused.stderr
        )
        assert "hint: if you trust this Dockerfile with the host's network" in refused.stderr
        assert "--allow network.host" in refused.stderr
        assert "FIRST-STEP-RAN" not in refused.stderr  # refused before anything ran
        assert server.accepted == 0
        images = ok(run_cli(["--root", str(store_with_base), "images"])).stdout
        assert "widened" not in images
        ok(_build(store_with_base, ctx, "-t", "widened:1", "--allow", "network.host"))
        assert server.accepted == 1
        assert _cat(store_with_base, "widened:1", "/got") == "hello\n"


def test_network_none_is_a_ceiling(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox\n"
        "RUN --network=host ls /sys/class/net > /host-asked\n"
        "RUN --network=default ls /sys/class/net > /default-asked\n"
        "RUN ls /sys/class/net > /plain\n",
    )
    ok(
        _build(
            store_with_base, ctx, "-t", "ceiling:1", "--network", "none", "--allow", "network.host"
        )
    )
    for path in ("/host-asked", "/default-asked", "/plain"):
        assert _cat(store_with_base, "ceiling:1", path) == "lo\n", path


def test_private_is_the_default_and_a_step_can_narrow_it(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox\n"
        "RUN ls /sys/class/net > /private && cat /etc/resolv.conf > /resolv\n"
        "RUN --network=none ls /sys/class/net > /none\n",
    )
    ok(_build(store_with_base, ctx, "-t", "nets:1"))
    assert _cat(store_with_base, "nets:1", "/private").split() == ["lo", "tap0"]
    assert _cat(store_with_base, "nets:1", "/none").split() == ["lo"]
    resolv = _cat(store_with_base, "nets:1", "/resolv")
    assert resolv.split("nameserver ", 1)[1].startswith("10.0.2.3\n"), resolv


def test_the_reported_cgroup_escape_fails_the_step(tmp_path: Path, store_with_base: Path) -> None:
    """The security review's RUN, with --network host as the review ran it: it moved
    itself into the host's root devices cgroup. Now the write is refused and the step
    fails with what the kernel said."""
    ctx = _context(
        tmp_path,
        "FROM busybox\nRUN echo $$ > /sys/fs/cgroup/devices/cgroup.procs "
        "|| echo $$ > /sys/fs/cgroup/cgroup.procs\n",
    )
    proc = _build(store_with_base, ctx, "-t", "escape:1", "--network", "host")
    assert proc.returncode == 11, proc.stderr
    assert "Read-only file system" in proc.stderr


def test_seccomp_refuses_user_namespaces_unless_unconfined(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN unshare -U true\n")
    proc = _build(store_with_base, ctx, "-t", "userns:1")
    assert proc.returncode == 11, proc.stderr
    assert "unshare(0x10000000): Operation not permitted" in proc.stderr
    ok(_build(store_with_base, ctx, "-t", "userns:1", "--security-opt", "seccomp=unconfined"))
    # the step cached without a filter is not what a build with the filter gets
    again = _build(store_with_base, ctx, "-t", "userns:2")
    assert again.returncode == 11, again.stderr
    missing = _build(store_with_base, ctx, "-t", "x:1", "--security-opt", "seccomp=/no/such.json")
    assert missing.returncode == 3, missing.stderr
    assert "seccomp profile /no/such.json does not exist" in missing.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_run_publishes_ports_into_the_private_network(store_with_base: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            *imageforge_cmd(),
            "--root",
            str(store_with_base),
            "run",
            "-p",
            f"127.0.0.1:{port}:8080",
            "busybox",
            "sh",
            "-c",
            "echo served-through-slirp | nc -l -p 8080",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answer = b""
    deadline = time.monotonic() + 60
    while not answer and time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                answer = conn.recv(100)
        except OSError:
            time.sleep(0.1)
    _, err = proc.communicate(timeout=60)
    assert answer == b"served-through-slirp\n", err
    assert proc.returncode == 0, err


def test_run_refuses_what_cannot_be_published(store_with_base: Path) -> None:
    root = ["--root", str(store_with_base), "run"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_cli([*root, "-p", f"127.0.0.1:{port}:80", "busybox", "true"])
    assert busy.returncode == 5, busy.stderr
    assert f"cannot publish 127.0.0.1:{port}->80/tcp" in busy.stderr
    host = run_cli([*root, "--network", "host", "-p", "8080:80", "busybox", "true"])
    assert host.returncode == 2
    assert "--publish needs the private network, not --network host" in host.stderr
    bare = run_cli([*root, "-p", "80", "busybox", "true"])
    assert bare.returncode == 2 and "a host port is required" in bare.stderr


def test_apt_get_install_through_the_private_network(
    tmp_path: Path, debian_slim: DebianSlim
) -> None:
    """A default-network RUN reaches the Debian mirror (DNS through slirp's forwarder,
    HTTP through slirp4netns) and apt-get installs a package as it does on the host."""
    root = tmp_path / "store"
    layout = f"oci:{debian_slim.layout}"
    ok(run_cli(["--root", str(root), "import", layout, "-t", "debian:bookworm"]))
    ctx = _context(
        tmp_path,
        "FROM debian:bookworm\n"
        "RUN ls /sys/class/net > /nets && apt-get update -qq "
        "&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hello "
        "&& hello > /greeting && rm -rf /var/lib/apt/lists/*\n",
    )
    ok(_build(root, ctx, "-t", "hello-apt:1"))
    assert _cat(root, "hello-apt:1", "/greeting") == "Hello, world!\n"
    assert _cat(root, "hello-apt:1", "/nets").split() == ["lo", "tap0"]
