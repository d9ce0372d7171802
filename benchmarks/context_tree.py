"""Time ``imageforge context`` on a 100,000-file tree beside ``du -sb`` and
``tar -cf /dev/null`` of the same tree, measured in the same run.

    .venv/bin/python benchmarks/context_tree.py [--files 100000] [--repeat 3]

The tree (in a temporary directory, removed afterwards) looks like a JavaScript
project: most files under node_modules, a .git with loose objects, some sources, and a
.dockerignore with an exception so the walker cannot simply skip everything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from imageforge.dockerfile import context_report, walk_context


def build_tree(root: Path, files: int) -> None:
    share = {"node_modules": 0.80, ".git/objects": 0.15, "src": 0.05}
    made = 0
    for top, part in share.items():
        count = int(files * part) if top != "src" else files - made
        for i in range(count):
            d = root / top / f"p{i // 250:04d}" / f"m{i // 50 % 5}"
            if i % 50 == 0:
                d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i}.js").write_bytes(b"x" * (i % 4096))
        made += count
    (root / "Dockerfile").write_text("FROM node:20\nCOPY src/ /app/src/\nCOPY package.json /app/\n")
    (root / "package.json").write_text("{}\n")
    (root / ".dockerignore").write_text(".git\nnode_modules\n!node_modules/p0000/m0\n")


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imageforge-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        build_tree(root, args.files)
        print(f"tree: {args.files} files built in {time.perf_counter() - t0:.1f}s at {root}")

        def du() -> None:
            subprocess.run(["du", "-sb", str(root)], check=True, capture_output=True)

        def tar() -> None:
            subprocess.run(
                ["tar", "-cf", "/dev/null", "-C", str(root), "."], check=True, capture_output=True
            )

        def report() -> None:
            context_report(root, dockerfile=root / "Dockerfile", copy_sources=["src/"])

        def walk() -> None:
            for _ in walk_context(root):
                pass

        report()  # warm the page cache once for everyone
        rows = [
            ("du -sb", best_of(args.repeat, du)),
            ("tar -cf /dev/null", best_of(args.repeat, tar)),
            ("context_report (full scan + 2 walks)", best_of(args.repeat, report)),
            ("walk_context (prunes ignored dirs)", best_of(args.repeat, walk)),
        ]
        r = context_report(root, dockerfile=root / "Dockerfile", copy_sources=["src/"])
        print(f"before: {r.before.files} files {r.before.bytes} B; after: {r.after.files} files")
        print(f"suggestion: {list(r.suggestion)}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, best of {args.repeat}")
        for name, seconds in rows:
            print(f"  {name:40s} {seconds:7.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
