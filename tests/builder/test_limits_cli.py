"""``imageforge run`` and ``imageforge build`` under resource limits, end to end: what a
user types, what the kernel enforced (read from inside the container's own cgroup) and
what the user is told when a process is OOM-killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builder.conftest import ok
from tests.conftest import requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

_ALLOCATE = "dd if=/dev/zero of=/dev/null bs=300M count=1"
_CGROUP_FILES = (
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    "/sys/fs/cgroup/pids/pids.max",
    "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
)


def _run(root: Path, *args: str) -> tuple[int, str, str]:
    proc = run_cli(["--root", str(root), "run", "--network", "none", *args], timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_run_reports_an_oom_kill_with_exit_137(store_with_base: Path) -> None:
    code, _, err = _run(store_with_base, "--memory", "256m", "busybox", *_ALLOCATE.split())
    assert code == 137
    assert "error: the container was killed: out of memory (limit 256 MiB)" in err


def test_run_puts_the_limits_in_the_container_s_cgroup(store_with_base: Path) -> None:
    code, out, err = _run(
        store_with_base,
        "--memory=256m",
        "--pids-limit=20",
        "--cpus=0.5",
        "busybox",
        "cat",
        *_CGROUP_FILES,
    )
    assert code == 0, err
    assert out.split() == [str(256 << 20), "20", "50000"]


def test_bad_limits_are_refused_before_anything_runs(store_with_base: Path) -> None:
    code, _, err = _run(store_with_base, "--memory", "4m", "busybox", "true")
    assert code == 2
    assert "--memory 4 MiB is below the minimum of 6 MiB" in err
    code, _, err = _run(store_with_base, "--memory", "lots", "busybox", "true")
    assert code == 2 and "--memory 'lots' is not a size" in err
    code, _, err = _run(store_with_base, "--cap-add", "NOPE", "busybox", "true")
    assert code == 2 and "--cap-add NOPE: no such capability" in err


def _context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def test_build_limits_reach_every_run_step(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, f"FROM busybox\nRUN cat {' '.join(_CGROUP_FILES)} > /limits\n")
    root = str(store_with_base)
    args = ["--memory", "256m", "--pids-limit", "20", "--cpus", "0.5", "-t", "limited"]
    ok(run_cli(["--root", root, "build", str(ctx), *args], timeout=300))
    code, out, err = _run(store_with_base, "limited", "cat", "/limits")
    assert code == 0, err
    assert out.split() == [str(256 << 20), "20", "50000"]


def test_an_oom_killed_run_step_fails_the_build_naming_it(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(tmp_path, f"FROM busybox\nRUN true\nRUN {_ALLOCATE}\n")
    root = str(store_with_base)
    proc = run_cli(
        ["--root", root, "build", str(ctx), "--memory", "256m", "-t", "never"], timeout=300
    )
    assert proc.returncode != 0
    assert f"RUN '/bin/sh -c {_ALLOCATE}' killed: out of memory (limit 256 MiB)" in proc.stderr
    assert "Dockerfile:3" in proc.stderr
    assert "--memory" in proc.stderr  # the hint
    listed = ok(run_cli(["--root", root, "images"])).stdout
    assert "never" not in listed
