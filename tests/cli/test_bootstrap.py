"""``imageforge bootstrap`` as a user runs it: the image lands in the store under its
name (or only at --output), the digest is stable, bad input exits non-zero and leaves
the store as it was."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_binary, run_cli


def _if(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["--root", str(root), *args])


def _ok(root: Path, *args: str) -> str:
    proc = _if(root, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _images(root: Path) -> list[tuple[str, str, str]]:
    rows = json.loads(_ok(root, "images", "--format", "json"))
    return [(r["repository"], r["tag"], r["digest"]) for r in rows]


def test_busybox_lands_in_the_store_and_is_reproducible(tmp_path: Path) -> None:
    root = tmp_path / "store"
    out = _ok(root, "bootstrap", "busybox", "--progress", "quiet")
    name, digest, *size = out.split()
    assert name == "busybox:latest" and digest.startswith("sha256:") and size[-1] == "MB"
    assert _images(root) == [("busybox", "latest", digest)]
    doc = json.loads(
        _ok(
            root,
            "bootstrap",
            "busybox",
            "-t",
            "tools/bb:1",
            "--format",
            "json",
            "--progress",
            "quiet",
        )
    )
    assert doc["name"] == "docker.io/tools/bb:1"
    assert doc["digest"] == digest
    assert doc["size"] > 500_000
    [layer] = doc["layers"]
    assert set(layer) == {"digest", "diffId", "size"}
    assert sorted(_images(root)) == [("busybox", "latest", digest), ("tools/bb", "1", digest)]
    inspect = json.loads(_ok(root, "inspect", "tools/bb:1", "--format", "json"))
    assert inspect["config"]["config"]["Cmd"] == ["sh"]


def test_busybox_output_leaves_the_store_untouched(tmp_path: Path) -> None:
    need_binary("skopeo")
    root = tmp_path / "store"
    archive = tmp_path / "bb.tar"
    out = _ok(
        root, "bootstrap", "busybox", "--output", f"docker-archive:{archive}", "--progress", "quiet"
    )
    assert out.startswith(f"docker-archive:{archive}:docker.io/library/busybox:latest sha256:")
    info = subprocess.run(
        ["skopeo", "inspect", f"docker-archive:{archive}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(info.stdout)["Architecture"]
    assert _images(root) == []
    layout = tmp_path / "layout"
    doc = json.loads(
        _ok(
            root,
            "bootstrap",
            "busybox",
            "-t",
            "bb:2",
            "--output",
            f"oci:{layout}",
            "--format",
            "json",
        )
    )
    assert doc["output"] == f"oci:{layout}:2"
    index = json.loads((layout / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["digest"] == doc["digest"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "2"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str, str]]]:
    root = tmp_path_factory.mktemp("filled") / "store"
    _ok(root, "bootstrap", "busybox", "--progress", "quiet")
    return root, _images(root)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["busybox", "--output", "rootfs:/tmp/x"], "--output 'rootfs:/tmp/x'"),
        (["busybox", "-t", "Bad Name!"], "Bad Name!"),
        (["debian", "--suite", "no-such-suite"], "no-such-suite"),
        (["debian", "--suite", "../etc"], "../etc"),
        (["debian", "--mirror", "ftp-ish:/x"], "ftp-ish:/x"),
    ],
)
def test_bad_arguments_exit_2_and_change_nothing(
    filled: tuple[Path, list[tuple[str, str, str]]], args: list[str], message: str
) -> None:
    root, before = filled
    proc = _if(root, "bootstrap", *args, "--progress", "quiet")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert proc.stdout == ""
    assert _images(root) == before


def test_unreachable_mirror_exits_10_with_a_hint(
    filled: tuple[Path, list[tuple[str, str, str]]],
) -> None:
    need_binary("debootstrap")
    root, before = filled
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    proc = _if(
        root,
        "bootstrap",
        "debian",
        "--mirror",
        f"http://127.0.0.1:{port}/debian",
        "--progress",
        "quiet",
    )
    assert proc.returncode == 10, proc.stderr
    assert proc.stderr.startswith("error: debootstrap bookworm (minbase) from http://127.0.0.1:")
    assert "\nhint: check the network and the mirror" in proc.stderr
    assert _images(root) == before
