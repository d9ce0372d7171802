"""examples/go-service: the guide's multi-stage example for real — a Debian build stage
with Debian's golang-go (installed by apt-get in a RUN over the default private network,
slirp4netns), a scratch final stage with the static binary; the service answers through
a published port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from imageforge.store import Store
from imageforge.transports import open_source, select_platform
from tests.bootstrap.conftest import DebianSlim
from tests.builder.conftest import ok
from tests.conftest import imageforge_cmd, requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "go-service"


def _uncompressed_size(root: Path, name: str) -> int:
    with open_source(name, Store(root)) as obj:
        image = select_platform(obj)
        total = 0
        for layer in image.layers():
            with layer.open_uncompressed() as f:
                while chunk := f.read(1 << 20):
                    total += len(chunk)
        return total


def test_go_service_builds_small_and_answers(tmp_path: Path, debian_slim: DebianSlim) -> None:
    root = tmp_path / "store"
    ok(
        run_cli(
            ["--root", str(root), "import", f"oci:{debian_slim.layout}", "-t", "debian:bookworm"]
        )
    )
    ok(
        run_cli(
            [
                "--root",
                str(root),
                "build",
                str(EXAMPLE),
                "--target",
                "build",
                "-t",
                "go-builder:1",
                "--progress",
                "plain",
            ],
            timeout=900,
        )
    )
    ok(
        run_cli(
            [
                "--root",
                str(root),
                "build",
                str(EXAMPLE),
                "-t",
                "go-service:1",
                "--progress",
                "plain",
            ],
            timeout=900,
        )
    )
    builder = _uncompressed_size(root, "go-builder:1")
    final = _uncompressed_size(root, "go-service:1")
    assert builder > 400 * 1000 * 1000, builder
    assert final < 15 * 1000 * 1000, final
    assert "listening on" in _answers(root, "go-service:1")
    cfg = json.loads(
        ok(run_cli(["--root", str(root), "inspect", "go-service:1", "--format", "json"])).stdout
    )["config"]
    assert cfg["config"]["User"] == "65534:65534"
    assert str(root) not in Path("/proc/self/mountinfo").read_text()  # run cleaned up

    # Guide 5.1: the same Dockerfile for amd64 and arm64; its build stage runs natively
    # (FROM --platform=$BUILDPLATFORM, apt-get's step cached from above) and
    # cross-compiles with GOARCH=$TARGETARCH; the arm64 image runs under qemu-user.
    build = ["build", str(EXAMPLE), "-t", "go-service:multi", "--progress", "plain"]
    multi = ok(
        run_cli(["--root", str(root), *build, "--platform", "linux/amd64,linux/arm64"], timeout=900)
    )
    assert "apt-get install" in multi.stderr and "CACHED" in multi.stderr
    doc = json.loads(
        ok(
            run_cli(
                [
                    "--root",
                    str(root),
                    "inspect",
                    "go-service:multi",
                    "--platform",
                    "linux/arm64",
                    "--format",
                    "json",
                ]
            )
        ).stdout
    )
    assert [p["platform"] for p in doc["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert doc["config"]["architecture"] == "arm64"
    assert "listening on" in _answers(root, "go-service:multi", "--platform", "linux/arm64")


def _answers(root: Path, image: str, *args: str) -> str:
    """Run ``image`` with the service's port published; its stderr once it answered."""
    with socket.socket() as free:  # a port the kernel hands out, for the host side
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    # The service listens on :8080 in its own network namespace; -p forwards the host's
    # port to it, as the demo does.
    proc = subprocess.Popen(
        [*imageforge_cmd(), "--root", str(root), "run", *args, "-p", f"{port}:8080", image],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = ""
        for _ in range(100):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert body == "hello from a 15 MB image built by imageforge\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    return err
