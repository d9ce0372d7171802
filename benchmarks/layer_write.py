"""Write a ~1 GiB layer from a tree and compare with ``tar -czf`` of the same tree.

Usage: python benchmarks/layer_write.py [--size-mib 1024] [--dir DIR]

The tree holds one sparse file of half the size (zeros) and 64 files of random-ish data
(half random bytes, half zeros) for the other half, so compression does real work.
Prints wall time and peak RSS for imageforge (this process, getrusage SELF) and for GNU
tar + gzip (children, getrusage CHILDREN), both in this same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from imageforge.layers import write_layer_from_dir


def make_tree(root: Path, size: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "sparse.img").open("wb") as f:
        f.truncate(size // 2)
    per_file = (size - size // 2) // 64
    chunk = 1 << 20
    for i in range(64):
        with (root / f"data-{i:02d}.bin").open("wb") as f:
            left = per_file
            while left:
                n = min(chunk, left)
                f.write(os.urandom(n // 2) + bytes(n - n // 2))
                left -= n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="layer-bench-"))
    tree = work / "tree"
    try:
        make_tree(tree, args.size_mib << 20)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        with (work / "ours.tar.gz").open("wb") as f:
            info = write_layer_from_dir(tree, f)
        ours = time.perf_counter() - t0
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        # tar -czf runs gzip -6 as a pipe; the same pipe spelled out lets /usr/bin/time
        # give each its own peak RSS (getrusage CHILDREN would count the forked Python).
        done = subprocess.run(
            f"/usr/bin/time -f 'tar %M' tar --format=pax -cf - -C '{tree}' . "
            f"| /usr/bin/time -f 'gzip %M' gzip -6 > '{work / 'tar.tar.gz'}'",
            shell=True,
            check=True,
            capture_output=True,
            text=True,
        )
        theirs = time.perf_counter() - t0
        peaks = [
            int(line.split()[1])
            for line in done.stderr.splitlines()
            if line[:4] in ("tar ", "gzip")
        ]
        rss_tar = max(peaks)
        mib = info.uncompressed_size / (1 << 20)
        print(f"tree: {args.size_mib} MiB; tar stream {mib:.0f} MiB")
        print(
            f"imageforge write_layer_from_dir (gzip -6, 2x sha256): {ours:6.2f} s "
            f"{mib / ours:7.1f} MiB/s  peak RSS {rss_ours / 1024:6.1f} MiB "
            f"(before: {rss_before / 1024:.1f} MiB)  compressed {info.size >> 20} MiB"
        )
        tar_size = (work / "tar.tar.gz").stat().st_size >> 20
        print(
            f"GNU tar | gzip -6 (no digests):                      {theirs:6.2f} s "
            f"{mib / theirs:7.1f} MiB/s  peak RSS {rss_tar / 1024:6.1f} MiB "
            f"(tar, gzip: {peaks} KiB)"
            f"  compressed {tar_size} MiB"
        )
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
