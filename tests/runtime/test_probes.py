"""Each probe of ``system check`` compared with an independent reading of the machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from imageforge.errors import Unavailable
from imageforge.runtime import (
    check_binfmt,
    check_cgroups,
    check_disk,
    check_overlayfs,
    check_root,
    check_runtime,
    check_tool,
    check_userns,
    find_static_busybox,
    forget_runtime_probe,
    is_static_elf,
    select_runtime,
)
from imageforge.runtime._mount import mount, umount
from tests.conftest import need_binary, requires_root


def _statfs_type(path: str) -> str:
    return subprocess.run(
        ["stat", "-f", "-c", "%T", path], capture_output=True, text=True, check=True
    ).stdout.strip()


def _cgroup_mode_from_statfs() -> str:
    top = _statfs_type("/sys/fs/cgroup")
    if top == "cgroup2fs":
        return "v2"
    unified = Path("/sys/fs/cgroup/unified")
    if unified.is_dir() and _statfs_type(str(unified)) == "cgroup2fs":
        return "hybrid"
    return "v1"


def test_cgroup_mode_matches_statfs() -> None:
    item = check_cgroups()
    assert item.ok
    assert item.data["mode"] == _cgroup_mode_from_statfs()
    if item.data["mode"] != "v2":
        # every v1 controller we list has its own hierarchy mounted
        for ctl in item.data["v1_controllers"]:
            assert any(ctl in m for m in item.data["v1_mounts"]) or ctl in ("net_cls", "net_prio")


@requires_root
def test_runc_starts_a_container() -> None:
    need_binary("runc")
    item = check_runtime("runc")
    assert item.ok, item.summary
    assert item.data["version"].startswith("runc version")


@requires_root
def test_crun_verdict_matches_the_cgroup_mode() -> None:
    need_binary("crun")
    item = check_runtime("crun")
    if _cgroup_mode_from_statfs() == "hybrid":
        # crun refuses hybrid hierarchies; the report must carry crun's own words
        assert not item.ok
        assert "hybrid" in item.data["reason"]
        assert "hybrid" in item.summary
    else:
        assert item.ok, item.summary


def test_missing_runtime_is_reported_not_raised() -> None:
    item = check_runtime("no-such-runtime-xyz")
    assert not item.ok
    assert item.summary == "not installed"
    assert item.hint and "apt-get install no-such-runtime-xyz" in item.hint


@requires_root
def test_overlay_mounts_on_a_plain_directory(tmp_path: Path) -> None:
    item = check_overlayfs(tmp_path)
    assert item.ok, item.summary
    assert item.data["whiteouts"] and item.data["copy_up"] and item.data["lower_untouched"]
    assert list(tmp_path.iterdir()) == []  # the probe cleans up after itself
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(tmp_path) not in mounts


@requires_root
def test_overlay_on_overlay_fails_with_a_hint(tmp_path: Path) -> None:
    # A store root that is itself on overlayfs cannot hold overlay upper dirs.
    parts = {n: tmp_path / n for n in ("l", "u", "w", "m")}
    for p in parts.values():
        p.mkdir()
    mount(
        "overlay",
        str(parts["m"]),
        "overlay",
        0,
        f"lowerdir={parts['l']},upperdir={parts['u']},workdir={parts['w']}",
    )
    try:
        item = check_overlayfs(parts["m"] / "root")
        assert not item.ok
        assert item.data["backing_fs"] == "overlay"
        assert item.hint and "overlayfs" in item.hint
    finally:
        umount(str(parts["m"]))


def test_userns_matches_the_sysctl() -> None:
    item = check_userns()
    limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    assert item.data["max_user_namespaces"] == limit
    if limit == 0:
        assert not item.ok
    else:
        assert item.ok, item.summary


def test_binfmt_matches_proc() -> None:
    item = check_binfmt()
    status = Path("/proc/sys/fs/binfmt_misc/status")
    assert item.data["mounted"] is status.exists()
    for arch in item.data.get("architectures", []):
        handler = Path("/proc/sys/fs/binfmt_misc") / f"qemu-{arch}"
        assert handler.read_text().splitlines()[0] == "enabled"


def test_binfmt_unmounted_directory_says_how_to_mount(tmp_path: Path) -> None:
    item = check_binfmt(tmp_path)
    assert not item.ok
    assert item.hint and "mount -t binfmt_misc" in item.hint


@pytest.mark.parametrize("tool", ["skopeo", "umoci", "buildah", "podman"])
def test_peer_tool_presence_matches_path(tool: str) -> None:
    item = check_tool(tool)
    assert item.ok is (shutil.which(tool) is not None)
    if item.ok:
        assert tool in item.summary.lower()


def test_absent_tool_has_install_hint() -> None:
    item = check_tool("no-such-tool-xyz")
    assert not item.ok and item.hint == "apt-get install no-such-tool-xyz"


def test_disk_free_matches_df(tmp_path: Path) -> None:
    item = check_disk(tmp_path / "not" / "yet")
    df = subprocess.run(
        ["df", "-B1", "--output=avail", str(tmp_path)], capture_output=True, text=True, check=True
    )
    avail = int(df.stdout.split()[-1])
    assert item.data["path"] == str(tmp_path)
    assert abs(item.data["free"] - avail) < 256 * 1024**2


def test_disk_below_minimum_is_not_ok(tmp_path: Path) -> None:
    item = check_disk(tmp_path, minimum_free=1 << 62)
    assert not item.ok and item.hint


def test_root_is_created_and_writable(tmp_path: Path) -> None:
    item = check_root(tmp_path / "a" / "b")
    assert item.ok and (tmp_path / "a" / "b").is_dir()


def test_root_under_a_file_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    item = check_root(tmp_path / "f" / "root")
    assert not item.ok and "Not a directory" in item.summary


def test_static_elf_detection(tmp_path: Path) -> None:
    busybox = find_static_busybox()
    assert busybox is not None, "busybox-static is not installed; 'make setup' installs it"
    assert is_static_elf(busybox)
    assert not is_static_elf(Path(os.path.realpath(shutil.which("ls") or "/bin/ls")))
    (tmp_path / "text").write_text("#!/bin/sh\n")
    assert not is_static_elf(tmp_path / "text")
    (tmp_path / "short").write_bytes(busybox.read_bytes()[:40])
    assert not is_static_elf(tmp_path / "short")
    assert not is_static_elf(tmp_path / "missing")


@requires_root
def test_runtime_verdict_is_remembered_until_the_binary_changes(tmp_path: Path) -> None:
    need_binary("runc")
    cache = tmp_path / "runtime-probe.json"
    assert select_runtime("runc", cache=cache).binary.name == "runc"
    saved = json.loads(cache.read_text())
    assert saved["runc"]["ok"] is True

    # A remembered verdict is believed without a trial container: say runc failed.
    saved["runc"].update(ok=False, summary="cannot start containers: remembered failure")
    cache.write_text(json.dumps(saved))
    with pytest.raises(Unavailable, match="remembered failure"):
        select_runtime("runc", cache=cache)

    # The same verdict for another binary (here: another mtime) is not believed.
    saved["runc"]["identity"]["mtime_ns"] -= 1
    cache.write_text(json.dumps(saved))
    assert select_runtime("runc", cache=cache).binary.name == "runc"
    assert json.loads(cache.read_text())["runc"]["ok"] is True

    forget_runtime_probe(cache)
    assert not cache.exists()
