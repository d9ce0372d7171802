"""``imageforge system check`` end to end, as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import requires_root, run_cli

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@requires_root
@pytest.mark.slow
def test_json_report(store_root: Path) -> None:
    proc = run_cli(["--root", str(store_root), "system", "check", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    items = {it["name"]: it for it in report["items"]}
    assert report["root"] == str(store_root)
    assert {
        "root",
        "runtime.runc",
        "runtime.crun",
        "overlayfs",
        "userns",
        "rootless",
        "cgroups",
        "seccomp",
        "network",
        "binfmt",
        "tool.skopeo",
        "tool.umoci",
        "tool.buildah",
        "tool.podman",
        "disk",
        "isolation",
    } == set(items)
    assert items["runtime.runc"]["ok"] is True
    # containers work here, so builds use them (--isolation none is for where none can)
    assert items["isolation"]["summary"] == "builds run RUN steps in containers (oci)"
    assert items["overlayfs"]["ok"] is True
    # The default sandbox: the seccomp profile converts here, a private network comes up.
    assert items["seccomp"]["ok"] is True, items["seccomp"]
    assert items["seccomp"]["data"]["architectures"]  # the native one first
    assert items["network"]["ok"] is True, items["network"]
    assert items["network"]["data"]["version"].startswith("slirp4netns version")
    # As root on the host: the machine is ready for users with subordinate ids.
    assert items["rootless"]["ok"] is True, items["rootless"]
    assert items["rootless"]["data"]["overlay_in_userns"] is True
    assert items["rootless"]["data"]["in_user_namespace"] is False
    if items["cgroups"]["data"]["mode"] == "hybrid":
        assert report["runtime"] == "runc"
        assert items["runtime.crun"]["ok"] is False
        assert "hybrid" in items["runtime.crun"]["data"]["reason"]
    # progress went to stderr as plain timestamped lines (no terminal here)
    lines = proc.stderr.splitlines()
    assert lines and all(re.match(TS + " ", line) for line in lines)
    assert lines[-1].endswith(tuple(f"done in {i}" for i in "0123456789")) or "done in" in lines[-1]


@requires_root
@pytest.mark.slow
def test_table_report(store_root: Path) -> None:
    proc = run_cli(["--root", str(store_root), "system", "check", "--progress", "quiet"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = {m.group(1): m.group(2) for m in re.finditer(r"│ (\S+)\s+│ (ok|no)\s+│", proc.stdout)}
    assert rows["runtime.runc"] == "ok"
    assert rows["overlayfs"] == "ok"
    assert re.search(r"^builds will use runtime: (runc|crun)$", proc.stdout, re.M)


def test_unknown_format_is_rejected(store_root: Path) -> None:
    proc = run_cli(["--root", str(store_root), "system", "check", "--format", "yaml"])
    assert proc.returncode == 2
    assert "yaml" in proc.stderr


def test_root_from_environment(tmp_path: Path) -> None:
    root = tmp_path / "from-env"
    proc = run_cli(
        ["system", "check", "--format", "json", "--progress", "quiet"],
        env={"IMAGEFORGE_ROOT": str(root)},
    )
    assert json.loads(proc.stdout)["root"] == str(root)
