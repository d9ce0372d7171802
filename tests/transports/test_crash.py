"""An import killed with SIGKILL mid-layer leaves no partial blob and no dangling ref."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import imageforge_cmd, run_cli

pytestmark = pytest.mark.slow


def _tar_stream(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def test_kill_during_import_from_a_slow_fifo(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good = tmp_path / "good"
    good.mkdir()
    (good / "f").write_text("ok")
    assert (
        run_cli(
            [
                "--root",
                str(store),
                "import",
                f"rootfs:{good}",
                "-t",
                "good:1",
                "--progress",
                "quiet",
            ]
        ).returncode
        == 0
    )
    before = run_cli(["--root", str(store), "images", "--format", "json"]).stdout

    fifo = tmp_path / "layer.fifo"
    os.mkfifo(fifo)
    data = _tar_stream(8 * 1024 * 1024)
    with subprocess.Popen(
        [
            *imageforge_cmd(),
            "--root",
            str(store),
            "import",
            f"rootfs:{fifo}",
            "-t",
            "x:1",
            "--progress",
            "quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        sent = threading.Event()

        def feed() -> None:
            try:
                with open(fifo, "wb") as w:
                    w.write(data[: len(data) // 2])
                    w.flush()
                    sent.set()
                    time.sleep(30)  # the rest never comes: the import is mid-layer
            except BrokenPipeError:
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        assert sent.wait(30)
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # every visible blob is complete: its bytes hash to its name
    for blob in (store / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    after = run_cli(["--root", str(store), "images", "--format", "json"])
    assert after.returncode == 0 and after.stdout == before
    assert "x" not in [i["repository"] for i in json.loads(after.stdout)]
    # the store still works: the same import, fed in full, succeeds
    full = tmp_path / "layer.tar"
    full.write_bytes(data)
    again = run_cli(
        ["--root", str(store), "import", f"rootfs:{full}", "-t", "x:1", "--progress", "quiet"]
    )
    assert again.returncode == 0, again.stderr
    pruned = run_cli(["--root", str(store), "prune", "--format", "json"])
    assert pruned.returncode == 0


def _open_under(pid: int, directory: Path) -> bool:
    """Whether process ``pid`` has a file under ``directory`` open (deleted or not)."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link.startswith(str(directory)) for link in links)


def test_kill_during_import_of_a_directory_leaves_no_spooled_layer(tmp_path: Path) -> None:
    """The directory's layer is written to a temporary file first; after a kill -9 that
    file must not stay behind in TMPDIR (nothing would ever remove it)."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    tree = tmp_path / "tree"
    tree.mkdir()
    with open(tree / "big.bin", "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1 << 20))
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    with subprocess.Popen(
        [
            *imageforge_cmd(),
            "--root",
            str(tmp_path / "store"),
            "import",
            f"rootfs:{tree}",
            "-t",
            "t:1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as proc:
        deadline = time.monotonic() + 60
        while not _open_under(proc.pid, tmpdir):
            assert proc.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)  # mid-layer
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list(tmpdir.rglob("*")) == []
