"""The runc driver against the real runtime, in a real busybox rootfs."""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import pytest

from imageforge.errors import NotFound
from imageforge.progress import RecordingProgress
from imageforge.runtime import (
    ContainerControl,
    OciRuntime,
    Process,
    StdIO,
    find_runtime,
    find_static_busybox,
    select_runtime,
)
from tests.conftest import need_binary, requires_root

pytestmark = requires_root


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    busybox = find_static_busybox()
    assert busybox is not None, "busybox-static is not installed; 'make setup' installs it"
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    return root


@pytest.fixture
def runc() -> OciRuntime:
    need_binary("runc")
    return find_runtime("runc")


def _run(
    runc: OciRuntime, rootfs: Path, tmp_path: Path, script: str
) -> tuple[int, str | None, str]:
    out = tmp_path / "out"
    with out.open("wb") as f:
        status = runc.run(
            rootfs, Process(args=["/bin/sh", "-c", script]), io=StdIO(stdout=f, stderr=f)
        )
    return status.code, status.runtime_error, out.read_text()


def test_exit_code_and_output_pass_through(runc: OciRuntime, rootfs: Path, tmp_path: Path) -> None:
    code, err, out = _run(runc, rootfs, tmp_path, "echo hello; exit 7")
    assert (code, err, out) == (7, None, "hello\n")


def test_missing_executable_is_a_runtime_error(
    runc: OciRuntime, rootfs: Path, tmp_path: Path
) -> None:
    status = runc.run(rootfs, Process(args=["/bin/does-not-exist"]))
    assert not status.ok
    assert status.runtime_error and "/bin/does-not-exist" in status.runtime_error


def test_rlimits_are_clamped_to_the_host(runc: OciRuntime, rootfs: Path, tmp_path: Path) -> None:
    _, host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    code, err, out = _run(runc, rootfs, tmp_path, "ulimit -Hn")
    assert (code, err) == (0, None)
    assert int(out) <= host_hard


def test_network_none_has_only_loopback(runc: OciRuntime, rootfs: Path, tmp_path: Path) -> None:
    code, _, out = _run(runc, rootfs, tmp_path, "cat /proc/net/dev")
    assert code == 0
    ifaces = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_env_cwd_and_user(runc: OciRuntime, rootfs: Path, tmp_path: Path) -> None:
    (rootfs / "work").mkdir()
    out = tmp_path / "out"
    with out.open("wb") as f:
        status = runc.run(
            rootfs,
            Process(
                args=["/bin/sh", "-c", "echo $GREETING $PWD $(id -u):$(id -g)"],
                env={"GREETING": "hi"},
                cwd="/work",
                uid=1000,
                gid=1000,
            ),
            io=StdIO(stdout=f, stderr=f),
        )
    assert status.ok
    assert out.read_text() == "hi /work 1000:1000\n"


def test_timeout_kills_the_container(rootfs: Path) -> None:
    need_binary("runc")
    slow = OciRuntime("runc", find_runtime("runc").binary, timeout=1.0)
    status = slow.run(rootfs, Process(args=["/bin/busybox", "sleep", "30"]))
    assert status.code == 124 and status.runtime_error and "timed out" in status.runtime_error


def test_a_stop_asked_as_the_container_starts_still_ends_it(runc: OciRuntime, rootfs: Path) -> None:
    """Ctrl-C during ``tune`` or a build can come before runc has created the
    container it was just asked to run: the stop must not miss it."""
    control = ContainerControl()
    control.stop()  # asked before the container exists: killed as it starts
    started = time.monotonic()
    status = runc.run(rootfs, Process(args=["/bin/busybox", "sleep", "60"]), control=control)
    assert time.monotonic() - started < 30, "the container ran on after the stop"
    # SIGKILL (128 + 9, as docker reports it), or, killed before runc started its
    # process, runc's own failure ("container process is already dead")
    assert status.code == 128 + 9 or (status.code == 1 and status.runtime_error), status
    assert not control.running()


def test_find_runtime_names_the_package() -> None:
    with pytest.raises(NotFound) as info:
        find_runtime("no-such-runtime-xyz")
    assert info.value.hint == "install it (Debian: apt-get install no-such-runtime-xyz)"


def test_select_runtime_says_which_it_chose() -> None:
    need_binary("runc")
    progress = RecordingProgress()
    chosen = select_runtime(progress=progress)
    notes = [e.text or "" for e in progress.events if e.kind == "note"]
    assert notes[-1].startswith(f"runtime: {chosen.name} (")
