"""Fixtures that make real images with real tools (umoci, skopeo): no hand-made stand-ins."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_binary


def run(*args: str | Path) -> str:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return proc.stdout


def make_rootfs(root: Path) -> Path:
    """A small tree with the things layers must keep: modes, owners, links, empty dirs."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hello").write_text("hello from imageforge\n")
    (root / "bin").mkdir()
    tool = root / "bin" / "tool"
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    (root / "bin" / "tool-link").symlink_to("tool")
    os.link(tool, root / "bin" / "tool-hard")
    secret = root / "etc" / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    (root / "var" / "empty").mkdir(parents=True)
    (root / "home" / "app").mkdir(parents=True)
    (root / "home" / "app" / "data.bin").write_bytes(os.urandom(200_000))
    if os.geteuid() == 0:
        os.chown(root / "home" / "app", 1000, 1000)
        os.chown(root / "home" / "app" / "data.bin", 1000, 1000)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    return root


def tree(root: Path) -> dict[str, tuple[str, int, int, int, str]]:
    """path -> (type, mode, uid, gid, content-or-target) for every entry below root."""
    out: dict[str, tuple[str, int, int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                kind, what = "symlink", os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                kind, what = "dir", ""
            else:
                kind, what = "file", p.read_bytes().hex()[:64] + str(st.st_size)
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what)
    return out


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path / "rootfs")


@pytest.fixture
def umoci_layout(tmp_path: Path, rootfs: Path) -> Path:
    """An OCI layout ``layout:v1`` holding ``rootfs`` as one layer, made by umoci."""
    need_binary("umoci")
    layout = tmp_path / "umoci-layout"
    bundle = tmp_path / "bundle"
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:v1")
    run("umoci", "unpack", "--image", f"{layout}:v1", bundle)
    for entry in rootfs.iterdir():
        run("cp", "-a", entry, bundle / "rootfs")
    run("umoci", "repack", "--image", f"{layout}:v1", bundle)
    shutil.rmtree(bundle)
    return layout
