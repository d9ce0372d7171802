"""Lint every Dockerfile of the shared corpus as one command, beside hadolint (the peer)
when it is on PATH or given with --hadolint.

Usage: .venv/bin/python benchmarks/lint_corpus.py [--hadolint PATH] [--rounds N] [CORPUS_DIR]
(default ../shared/corpus/dockerfiles beside the repository). Each round runs, in turn:
hadolint over all files, ``imageforge lint --no-cache`` (every RUN checked by ShellCheck:
a first lint, or one after a ShellCheck upgrade) and ``imageforge lint`` with ShellCheck's
findings remembered from an earlier run (a CI job or a developer linting again, the
cache kept between runs). The cache lives in a private ``XDG_CACHE_HOME`` primed once
before the rounds. Prints each time, the medians, the ratios to hadolint's median and the
load average; checks that the cold and warm runs print the same findings. Beside the wall
time, the CPU time of each run (user + system, its child processes included: imageforge's
shellcheck processes, hadolint's threads): on a machine shared with other work the wall
time moves with the load, the CPU time much less.
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

HERE = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (the command and every process it waited for) and stdout."""
    cpu = _cpu()
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - start, _cpu() - cpu, res.stdout


def main() -> int:
    default = HERE / ".." / "shared" / "corpus" / "dockerfiles"
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", type=Path, default=default)
    parser.add_argument("--hadolint", default=shutil.which("hadolint"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    files = [str(f) for f in sorted(args.corpus.glob("*/*/Dockerfile"))]
    if not files:
        print(f"no Dockerfiles under {args.corpus}", file=sys.stderr)
        return 2
    cache = tempfile.mkdtemp(prefix="lint-bench-cache-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(XDG_CACHE_HOME=cache, PYTHONPATH=str(HERE / "src"))
    imageforge = [sys.executable, "-m", "imageforge", "lint", "--failure-threshold", "none"]
    rows: dict[str, list[float]] = {"imageforge cold": [], "imageforge warm": []}
    cpus: dict[str, list[float]] = {"imageforge cold": [], "imageforge warm": []}
    if args.hadolint:
        rows["hadolint"] = []
        cpus["hadolint"] = []
    else:
        print("hadolint not found: pass --hadolint PATH to measure the peer")
    _timed([*imageforge, *files], env)  # byte-compiles the modules and primes the cache
    print(f"{len(files)} Dockerfiles, load {os.getloadavg()[0]:.2f}")
    try:
        for n in range(args.rounds):
            if args.hadolint:
                t, c, _ = _timed([args.hadolint, "--no-fail", *files], env)
                rows["hadolint"].append(t)
                cpus["hadolint"].append(c)
            t, c, cold = _timed([*imageforge, "--no-cache", *files], env)
            rows["imageforge cold"].append(t)
            cpus["imageforge cold"].append(c)
            t, c, warm = _timed([*imageforge, *files], env)
            rows["imageforge warm"].append(t)
            cpus["imageforge warm"].append(c)
            if sorted(cold.splitlines()) != sorted(warm.splitlines()):
                print("the cold and warm runs differ", file=sys.stderr)
                return 1
            print(
                f"round {n + 1}: "
                + ", ".join(f"{k} {v[-1]:.2f} s (CPU {cpus[k][-1]:.2f} s)" for k, v in rows.items())
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    for label, table in (("", rows), ("CPU ", cpus)):
        medians = {k: statistics.median(v) for k, v in table.items()}
        peer = medians.get("hadolint")
        for k, m in medians.items():
            ratio = f" ({m / peer:.2f}x hadolint)" if peer and k != "hadolint" else ""
            print(f"median {label}{k}: {m:.2f} s{ratio}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
