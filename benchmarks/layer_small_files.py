"""Write a layer of many small files (the 20,000-file COPY of ``build_peers.py``'s
``context-20k`` case) and compare with GNU tar + gzip on the same tree, same run.

Usage: python benchmarks/layer_small_files.py [--files 20000] [--rounds 3] [--dir DIR]

Each round runs imageforge's ``write_layer_from_dir`` (gzip level 1, the build's
default, both digests computed) in a fresh process and then ``tar --format=pax -cf - |
gzip -1`` (no digests), alternating; prints each tool's median wall time and CPU time
(user + system of the process or pipeline) and the load average before and after.
The files are already in the page cache after the first round: this measures the
per-file work (headers, syscalls, hashing, compression), not the disk.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

_OURS = """
import sys
from imageforge.layers import write_layer_from_dir
class Null:
    def write(self, data):
        return len(data)
write_layer_from_dir(sys.argv[1], Null(), compression="gzip", level=1)
"""


def _timed(cmd: list[str] | str, *, shell: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the children it started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, shell=shell, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="layer-small-"))
    tree = work / "tree"
    try:
        (tree / "data").mkdir(parents=True)
        for i in range(args.files):  # the files build_peers.py's context-20k copies
            (tree / "data" / f"f{i}.txt").write_text(f"{i}\n" * 100)
        print(f"load before: {os.getloadavg()[0]:.1f}", flush=True)
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            ours.append(_timed([sys.executable, "-c", _OURS, str(tree)]))
            theirs.append(
                _timed(f"tar --format=pax -cf - -C '{tree}' . | gzip -1 > /dev/null", shell=True)
            )
        for name, runs in (("imageforge write_layer_from_dir", ours), ("tar | gzip -1", theirs)):
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{name:32s} {args.files} files: wall {wall:5.2f} s  cpu {cpu:5.2f} s")
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
