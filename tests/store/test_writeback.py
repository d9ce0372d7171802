"""``start_writeback`` reaches the kernel as ``sync_file_range`` with the offsets and
length it was given, whole (a file offset past 4 GiB too), and leaves the file as it was:
it only starts writing dirty pages to disk, the fsync after it still makes them durable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import need_binary

SCRIPT = """
import os, sys
from imageforge.store import start_writeback
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.pwrite(fd, b"x" * 8192, 5 << 30)
start_writeback(fd, 5 << 30, 8192)
os.fsync(fd)
print(fd)
"""


def test_start_writeback_asks_the_kernel_for_exactly_the_range_given(tmp_path: Path) -> None:
    strace = need_binary("strace")
    target, log = tmp_path / "sparse", tmp_path / "strace.log"
    proc = subprocess.run(
        [strace, "-qq", "-o", str(log), "-e", "trace=sync_file_range,fsync"]
        + [sys.executable, "-c", SCRIPT, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    fd = proc.stdout.strip()
    lines = [" ".join(line.split()) for line in log.read_text().splitlines()]
    calls = [line for line in lines if line.startswith(("sync_file_range", "fsync"))]
    assert calls == [
        f"sync_file_range({fd}, {5 << 30}, 8192, SYNC_FILE_RANGE_WRITE) = 0",
        f"fsync({fd}) = 0",
    ]
    with target.open("rb") as f:
        f.seek(5 << 30)
        assert f.read() == b"x" * 8192
