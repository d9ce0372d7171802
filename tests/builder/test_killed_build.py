"""A build killed with SIGKILL during a RUN (#33 item 4): its container dies with it (no
runc, no RUN process, no slirp4netns, no runtime state left), the next ``prune`` unmounts
and removes what it left in the store, and the next build works; ``prune`` never touches
the snapshot a live ``imageforge run`` uses."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.builder.conftest import ok
from tests.conftest import imageforge_cmd, run_cli


def _processes_running(args: list[str]) -> list[int]:
    """The pids of processes whose command line is exactly ``args``."""
    want = "\0".join(args).encode() + b"\0"
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == want:
                    found.append(int(pid))
            except OSError:
                continue
    return found


def _processes_naming(text: str) -> list[int]:
    """The pids of processes whose command line mentions ``text``."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                continue
    return found


def _mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(str(root) + "/")]


def _wait_for(check: object, what: str, timeout: float = 60) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "IMAGEFORGE_ROOT"}
    return {**env, "TMPDIR": str(tmp)}


@pytest.mark.slow
def test_a_killed_build_leaves_no_container_and_prune_cleans_its_mount(
    tmp_path: Path, store_with_base: Path
) -> None:
    root = store_with_base
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    sleeper = ["sleep", "4242"]
    (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN {' '.join(sleeper)}\n")
    tmp = tmp_path / "tmp"  # where the build's runtime keeps its state, and only this build's
    build = subprocess.Popen(
        [*imageforge_cmd(), "--root", str(root), "build", "-t", "never:1", str(ctx)],
        env=_env(tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(
            lambda: _processes_running(sleeper) and _processes_naming(str(tmp)),
            "the RUN step to start",
        )
        mounts = _mounts_under(root)
        assert len(mounts) == 1  # the RUN step's overlay
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=20)
        # the container dies with the build: runc, its process, slirp4netns, the watchdog
        _wait_for(lambda: not _processes_naming(str(tmp)), "the container to die", 20)
        assert _processes_running(sleeper) == []
        assert [p.name for p in tmp.iterdir() if p.name.startswith("imageforge-runc-")] == []
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    # its mount stays until the next prune, which removes it (its owner is gone)
    assert _mounts_under(root) == mounts
    ok(run_cli(["--root", str(root), "prune"]))
    assert _mounts_under(root) == []
    assert list((root / "snapshots" / "active").iterdir()) == []
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo done > /done\n")
    ok(run_cli(["--root", str(root), "build", "-t", "next:1", str(ctx)], env=_env(tmp)))


@pytest.mark.slow
def test_prune_leaves_a_mount_a_live_process_uses_even_when_its_owner_is_gone(
    tmp_path: Path, store_with_base: Path
) -> None:
    """The build and its watchdog both killed: the container outlives its owner, and
    prune must not pull its filesystem from under it."""
    root = store_with_base
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    sleeper = ["sleep", "4343"]
    (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN {' '.join(sleeper)}\n")
    tmp = tmp_path / "tmp"
    build = subprocess.Popen(
        [*imageforge_cmd(), "--root", str(root), "build", "-t", "never:1", str(ctx)],
        env=_env(tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    survivors: list[int] = []
    try:
        _wait_for(lambda: _processes_running(sleeper), "the RUN step to start")
        (watchdog,) = [
            pid
            for pid in _processes_naming(str(tmp))
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/bin/sh\0")
        ]
        os.kill(watchdog, signal.SIGKILL)
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=20)
        time.sleep(1)
        survivors = _processes_running(sleeper)
        assert len(survivors) == 1
        mounts = _mounts_under(root)
        ok(run_cli(["--root", str(root), "prune"]))
        assert _mounts_under(root) == mounts  # in use: left alone
        assert Path(f"/proc/{survivors[0]}/root/bin/busybox").is_file()
    finally:
        for pid in survivors:  # pid 1 of its namespace: SIGKILL from here takes it all
            os.kill(pid, signal.SIGKILL)
        if build.poll() is None:
            build.kill()
            build.wait()
    _wait_for(lambda: not _processes_running(sleeper), "the container to die", 20)
    ok(run_cli(["--root", str(root), "prune"]))  # now nothing uses it: removed
    assert _mounts_under(root) == []
    assert list((root / "snapshots" / "active").iterdir()) == []


@pytest.mark.slow
def test_prune_leaves_the_snapshot_of_a_live_run_alone(
    tmp_path: Path, store_with_base: Path
) -> None:
    root = store_with_base
    script = "sleep 3; cat /etc/group; echo more > /tmp/written; cat /tmp/written"
    run = subprocess.Popen(
        [*imageforge_cmd(), "--root", str(root), "run", "--network", "none", "busybox"]
        + ["sh", "-c", script],
        env=_env(tmp_path / "tmp"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _processes_running(["sleep", "3"]) and _mounts_under(root), "the run")
        pruned = run_cli(["--root", str(root), "prune"])
        assert pruned.returncode == 0, pruned.stderr
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    assert out == "root:x:0:\napp:x:1000:\nnogroup:x:65534:\nmore\n"
    assert _mounts_under(root) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dockerfile", "sig"),
    [
        # one stage: the RUN waits in the main thread, whose pid 1 (sh) ignores SIGINT
        ("FROM busybox\nRUN sleep 4444\n", signal.SIGINT),
        # two stages at once, in worker threads that no signal reaches
        (
            "FROM busybox AS a\nRUN sleep 4444\nFROM busybox AS b\nRUN sleep 4445\n"
            "FROM busybox\nCOPY --from=a /etc/hostname /a\nCOPY --from=b /etc/hostname /b\n",
            signal.SIGTERM,
        ),
    ],
    ids=["ctrl-c-one-stage", "sigterm-two-stages"],
)
def test_an_interrupted_build_stops_its_steps_and_cleans_up(
    tmp_path: Path, store_with_base: Path, dockerfile: str, sig: signal.Signals
) -> None:
    """Ctrl-C or SIGTERM (a CI job cancelled) ends a build as BuildKit's does: its RUN
    containers killed at once (even a pid 1 that ignores the signal, even in stages
    running in threads), exit 130, nothing mounted or running left, nothing tagged."""
    root = store_with_base
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    sleepers = [["sleep", s] for s in ("4444", "4445") if f"sleep {s}" in dockerfile]
    tmp = tmp_path / "tmp"
    build = subprocess.Popen(
        [*imageforge_cmd(), "--root", str(root), "build", "-t", "never:1", str(ctx)],
        env=_env(tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: all(_processes_running(s) for s in sleepers), "the RUN steps to start")
        build.send_signal(sig)
        _, err = build.communicate(timeout=30)  # the sleeps would take over an hour
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert build.returncode == 130, err
    assert "interrupted" in err
    assert all(_processes_running(s) == [] for s in sleepers)
    _wait_for(lambda: not _processes_naming(str(tmp)), "the runtime's processes to end", 20)
    assert _mounts_under(root) == []
    assert "never" not in run_cli(["--root", str(root), "images"]).stdout
