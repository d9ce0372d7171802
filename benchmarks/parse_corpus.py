"""Parse every Dockerfile of the shared corpus in one process and print the time.

Usage: .venv/bin/python benchmarks/parse_corpus.py [CORPUS_DIR]
(default ../shared/corpus/dockerfiles beside the repository). Target: under 1 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from imageforge.dockerfile import parse


def main() -> int:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "dockerfiles"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    files = sorted(root.glob("*/*/Dockerfile"))
    if not files:
        print(f"no Dockerfiles under {root}", file=sys.stderr)
        return 2
    data = [(str(p), p.read_bytes()) for p in files]
    size = sum(len(d) for _, d in data)
    start = time.perf_counter()
    instructions = 0
    for name, blob in data:
        instructions += len(parse(blob, file=name).instructions)
    elapsed = time.perf_counter() - start
    print(
        f"parsed {len(files)} Dockerfiles ({size / 1e6:.2f} MB, {instructions} instructions) "
        f"in {elapsed:.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
