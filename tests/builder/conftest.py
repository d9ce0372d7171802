"""A busybox base image handed over as an OCI layout, made once per session."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.runtime import find_static_busybox
from tests.conftest import run_cli


def _busybox_rootfs(root: Path) -> None:
    busybox = find_static_busybox()
    if busybox is None:
        pytest.fail("no static busybox on this machine: apt-get install busybox-static")
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    listed = subprocess.run(
        [str(busybox), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in listed:
        if applet != "busybox":
            os.symlink("busybox", root / "bin" / applet)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/home:/bin/false\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nnogroup:x:65534:\n")
    for d in ("tmp", "root", "home", "var", "proc", "sys", "dev"):
        (root / d).mkdir()
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    for p in root.rglob("*"):
        if not p.is_symlink():
            p.chmod(stat.S_IMODE(p.stat().st_mode))


@pytest.fixture(scope="session")
def base_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``oci:<dir>:busybox`` with a busybox rootfs: the FROM of every build test."""
    work = tmp_path_factory.mktemp("base")
    rootfs = work / "rootfs"
    _busybox_rootfs(rootfs)
    store = work / "store"
    ok(run_cli(["--root", str(store), "import", f"rootfs:{rootfs}", "-t", "busybox:base"]))
    layout = work / "layout"
    ok(run_cli(["--root", str(store), "export", "busybox:base", f"oci:{layout}:busybox"]))
    return layout


@pytest.fixture
def store_with_base(tmp_path: Path, base_layout: Path) -> Iterator[Path]:
    root = tmp_path / "store"
    ok(run_cli(["--root", str(root), "import", f"oci:{base_layout}:busybox", "-t", "busybox"]))
    yield root


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{proc.stderr}"
    return proc
