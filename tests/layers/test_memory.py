"""Layers are streamed: writing and extracting a large layer uses little memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = """
import os, sys
from imageforge.layers import extract_layer, write_layer_from_dir
tree, blob, out = sys.argv[1:4]
os.mkdir(tree)
with open(os.path.join(tree, "big"), "wb") as f:
    f.truncate(512 << 20)
with open(blob, "wb") as f:
    info = write_layer_from_dir(tree, f, level=1)
os.mkdir(out)
extract_layer(blob, out, expected=info.digest)
assert os.path.getsize(os.path.join(out, "big")) == 512 << 20
# VmHWM is this process's own peak; ru_maxrss would carry over the forking pytest's
# peak through execve (the kernel keeps the old mm's high-water mark in the signal struct).
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(int(hwm.split()[1]) // 1024)
"""


@pytest.mark.slow
def test_half_a_gib_layer_is_written_and_extracted_in_bounded_memory(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            str(tmp_path / "tree"),
            str(tmp_path / "l.tgz"),
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    peak_mib = int(done.stdout.strip())
    assert peak_mib < 100, f"peak RSS {peak_mib} MiB for a 512 MiB layer: not streaming"
