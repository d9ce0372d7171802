"""``imageforge bootstrap`` as a user runs it: the image lands in the store under its
name (or only at --output), the digest is stable, bad input exits non-zero and leaves
the store as it was."""

from __future__ import annotations

import json
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
    tmp_path: Path, args: list[str], message: str
) -> None:
    root = tmp_path / "store"
    _ok(root, "bootstrap", "busybox", "--progress", "quiet")
    before = _images(root)
    proc = _if(root, "bootstrap", *args, "--progress", "quiet")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert proc.stdout == ""
    assert _images(root) == before
