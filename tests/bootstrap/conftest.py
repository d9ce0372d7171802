"""Helpers for checking bootstrapped images with the real peers: skopeo, umoci, podman."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import containers_env, need_binary, run_cli


def run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return proc.stdout


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """``umoci unpack`` the image; returns the bundle's rootfs."""
    need_binary("umoci")
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    return bundle / "rootfs"


class Podman:
    """podman with private storage (vfs) and the containers.conf this machine needs:
    runc (crun refuses hybrid cgroups) and ulimits within the host's hard limits."""

    def __init__(self, base: Path, runroot: Path) -> None:
        self.binary = need_binary("podman")
        self.env = containers_env(base)
        self.args = [
            self.binary,
            "--root",
            str(base / "storage"),
            "--runroot",
            str(runroot),
            "--storage-driver",
            "vfs",
        ]

    def __call__(self, *args: str) -> str:
        return run(*self.args, *args, env=self.env)


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    # podman refuses a runroot path longer than 50 characters: pytest's are longer.
    runroot = Path(tempfile.mkdtemp(prefix="ifboot-", dir="/tmp"))
    pod = Podman(tmp_path, runroot)
    try:
        yield pod
    finally:
        subprocess.run([*pod.args, "rm", "-a", "-f"], env=pod.env, capture_output=True, check=False)
        shutil.rmtree(runroot, ignore_errors=True)


class DebianSlim:
    """One ``imageforge bootstrap debian --slim`` run through the CLI, shared by every test
    that needs it (debootstrap downloads ~40 MB and takes ~30-60 s)."""

    def __init__(self, out: Path, result: dict[str, object], stderr: str) -> None:
        self.layout = out / "layout"
        self.result = result
        self.stderr = stderr
        self.rootfs = umoci_unpack(self.layout, "bookworm-slim", out / "bundle")


def make_debian_slim(tmp_path_factory: pytest.TempPathFactory) -> DebianSlim:
    """The session's one debian slim bootstrap (the ``debian_slim`` fixture lives in
    tests/conftest.py so tests/bootstrap and tests/builder share it)."""
    need_binary("debootstrap")
    out = tmp_path_factory.mktemp("debian-slim")
    proc = run_cli(
        [
            "--root",
            str(out / "store"),
            "bootstrap",
            "debian",
            "--slim",
            "--output",
            f"oci:{out / 'layout'}",
            "--format",
            "json",
            "--progress",
            "plain",
        ],
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return DebianSlim(out, json.loads(proc.stdout), proc.stderr)
