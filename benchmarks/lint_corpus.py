"""Lint every Dockerfile of the shared corpus, in process and as a command, beside
hadolint (the peer) when it is on PATH or given with --hadolint.

Usage: .venv/bin/python benchmarks/lint_corpus.py [--hadolint PATH] [CORPUS_DIR]
(default ../shared/corpus/dockerfiles beside the repository). Each command is run once
over all files in one process, as CI would run it; best of 3.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from imageforge.lint import lint_path


def _best(cmd: list[str], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "dockerfiles"
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", type=Path, default=default)
    parser.add_argument("--hadolint", default=shutil.which("hadolint"))
    args = parser.parse_args()
    files = sorted(args.corpus.glob("*/*/Dockerfile"))
    if not files:
        print(f"no Dockerfiles under {args.corpus}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    counts: Counter[str] = Counter()
    for f in files:
        _shown, findings = lint_path(f)
        counts.update(x.rule_id for x in findings)
    in_process = time.perf_counter() - start
    print(f"imageforge lint, in process: {len(files)} files in {in_process:.3f} s")

    names = [str(f) for f in files]
    exe = str(Path(sys.executable).with_name("imageforge"))
    cli = _best([exe, "lint", "--failure-threshold", "none", *names])
    print(f"imageforge lint (command, incl. start-up): {cli:.3f} s")
    if args.hadolint:
        peer = _best([args.hadolint, "--no-fail", *names])
        print(f"hadolint {args.hadolint} (command): {peer:.3f} s")
    else:
        print("hadolint not found: pass --hadolint PATH to measure the peer")
    print("findings per rule: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
