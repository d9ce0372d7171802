"""Where the busybox case of ``build_peers.py`` spends its time, step by step, for one
or more source trees of imageforge measured in the same alternating rounds (issue #32,
the "load + cold, busybox" row).

Each round, for each tree, into an empty store: ``imageforge import oci:LAYOUT`` of the
busybox base (timed as "load"), then the cold build of ``build_peers.BUSYBOX_DOCKERFILE``
over a 200-file context with ``-vv --progress plain`` (timed as "cold"). Each step's
time is read from the build's own timestamps (from the step's start line to its
``done in`` line): WORKDIR (unpacks the base's 280 entries, then the step), COPY of the
200 files, the two RUNs. The stores are removed only after the last round, so one
tree's deletions do not slow the next tree's file creations in the same round (ext4
skips inodes freed in the last seconds when it allocates, see the note printed).

Prints per tree the medians, then per other tree the median of the paired per-round
differences to the first tree (steadier than a difference of medians on a shared
machine), with the load average before and after.

``--extract`` times instead what the WORKDIR step starts with: ``extract_layer`` of the
busybox base (280 entries, 268 of them symlinks) as the snapshotter calls it, into fresh
directories on the store's filesystem (``/var/tmp``) and on tmpfs (``/dev/shm``, where
making a file costs little, so the extractor's own work shows), 10 extractions per tree
per round in a process of its own, trees alternating; medians per extraction.

Run by hand, as root, not in tests::

    .venv/bin/python benchmarks/build_steps.py [ROUNDS] [--tree NAME=SRC ...] [--extract]

``--tree main=/work/main/src --tree change=src`` compares two trees (default: this
checkout's ``src`` alone). imageforge runs byte-compiled, as an installed package would.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from benchmarks.build_peers import BUSYBOX_DOCKERFILE, IF_ENV  # noqa: E402
from tests.builder.conftest import _busybox_rootfs  # noqa: E402

PYTHON = str(HERE / ".venv" / "bin" / "python")
_LINE = re.compile(r"^(\S+Z) \[(\d+)/(\d+)\] (\S+)(.*)$")


def ms(seconds: Iterable[float]) -> float:
    """The median in milliseconds."""
    return statistics.median(seconds) * 1000


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stderr


def _steps(log: str) -> dict[str, float]:
    """step label ("3 WORKDIR") -> seconds, from the plain progress timestamps."""
    start: dict[str, float] = {}
    took: dict[str, float] = {}
    for line in log.splitlines():
        m = _LINE.match(line)
        if not m or "not cached" in m.group(5):
            continue
        ts = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        label = f"{m.group(2)} {m.group(4)}"
        if ": done in" in m.group(5):
            if label in start:
                took[label] = ts - start[label]
        else:
            start.setdefault(label, ts)
    return took


_EXTRACT = """
import inspect, json, os, shutil, sys, tempfile, time
from imageforge.layers import extract_layer
layout, where = sys.argv[1], sys.argv[2]
index = json.load(open(f"{layout}/index.json"))
manifest = index["manifests"][0]["digest"].split(":")[1]
layer = json.load(open(f"{layout}/blobs/sha256/{manifest}"))["layers"][0]
blob = f"{layout}/blobs/sha256/" + layer["digest"].split(":")[1]
kw = dict(xattrs=True, overlay_whiteouts=True)
if "fresh" in inspect.signature(extract_layer).parameters:
    kw["fresh"] = True  # as the snapshotter calls it
took = []
for _ in range(10):
    target = tempfile.mkdtemp(dir=where)
    start = time.perf_counter()
    extract_layer(blob, target, expected=layer["digest"], media_type=layer["mediaType"], **kw)
    took.append(time.perf_counter() - start)
    shutil.rmtree(target)
print(json.dumps(took))
"""


def _extract_rounds(trees: dict[str, str], layout: Path, rounds: int) -> None:
    import json

    for where in ("/var/tmp", "/dev/shm"):
        took: dict[str, list[float]] = {name: [] for name in trees}
        names = list(trees)
        for r in range(rounds):
            for name in names if r % 2 == 0 else reversed(names):
                env = dict(IF_ENV, PYTHONPATH=trees[name])
                out = subprocess.run(
                    [PYTHON, "-c", _EXTRACT, str(layout), where],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                ).stdout
                took[name].extend(json.loads(out))
        print(
            f"extract_layer of the busybox base into {where}: "
            + ", ".join(f"{name} {ms(values):.1f} ms" for name, values in took.items())
        )


def _round(
    src: str, work: Path, layout: Path, ctx: Path, store: Path
) -> tuple[float, float, dict[str, float]]:
    env = dict(IF_ENV, PYTHONPATH=src)
    base = [PYTHON, "-m", "imageforge", "--root", str(store)]
    t0 = time.perf_counter()
    _run([*base, "import", f"oci:{layout}:busybox", "-t", "ifbench/busybox:base"], env)
    t1 = time.perf_counter()
    log = _run(
        [*base, "-vv", "build", str(ctx), "-f", str(work / "Dockerfile")]
        + ["-t", "bench:1", "--progress", "plain"],
        env,
    )
    t2 = time.perf_counter()
    subprocess.run(["umount", "-R", str(store)], capture_output=True, check=False)
    return t1 - t0, t2 - t1, _steps(log)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=10)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=SRC")
    parser.add_argument("--extract", action="store_true", help="time extract_layer only")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(HERE / "src")}
    for src in trees.values():
        subprocess.run([PYTHON, "-m", "compileall", "-q", src], check=True, env=IF_ENV)
    work = Path(tempfile.mkdtemp(prefix="ifsteps-", dir="/var/tmp"))
    try:
        rootfs = work / "rootfs"
        _busybox_rootfs(rootfs)
        seed = work / "seed"
        layout = work / "layout"
        env = dict(IF_ENV, PYTHONPATH=next(iter(trees.values())))
        seed_cmd = [PYTHON, "-m", "imageforge", "--root", str(seed)]
        _run([*seed_cmd, "import", f"rootfs:{rootfs}", "-t", "base:busybox"], env)
        _run([*seed_cmd, "export", "base:busybox", f"oci:{layout}:busybox"], env)
        if args.extract:
            print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
            _extract_rounds(trees, layout, args.rounds)
            print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
            return
        ctx = work / "ctx"
        (ctx / "data").mkdir(parents=True)
        for i in range(200):
            (ctx / "data" / f"f{i}.txt").write_text(f"{i}\n" * 100)
        (work / "Dockerfile").write_text(BUSYBOX_DOCKERFILE.format(base="ifbench/busybox:base"))
        print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
        results: dict[str, list[tuple[float, float, dict[str, float]]]] = {t: [] for t in trees}
        names = list(trees)
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else reversed(names):
                store = work / f"store-{name}-{r}"
                results[name].append(_round(trees[name], work, layout, ctx, store))
        print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}\n")
        labels = list(results[names[0]][0][2])

        for name, rows in results.items():
            steps = " | ".join(
                f"{label} {ms(x[2].get(label, 0) for x in rows):.0f}" for label in labels
            )
            print(
                f"{name:10s} load {statistics.median(x[0] for x in rows) * 1000:4.0f} ms, "
                f"cold {statistics.median(x[1] for x in rows) * 1000:4.0f} ms, load+cold "
                f"{statistics.median(x[0] + x[1] for x in rows) * 1000:4.0f} ms | steps (ms): "
                + steps
            )
        for name in names[1:]:
            pairs = list(zip(results[names[0]], results[name], strict=True))
            total = statistics.median((a[0] + a[1]) - (b[0] + b[1]) for a, b in pairs)
            per = ", ".join(
                f"{label} {ms(a[2].get(label, 0) - b[2].get(label, 0) for a, b in pairs):+.0f}"
                for label in labels
            )
            print(
                f"{names[0]} - {name}, paired medians: load+cold {total * 1000:+.0f} ms; "
                f"steps (ms): {per}"
            )
        print(
            "\nnote: file creation on this machine's ext4 costs what the filesystem's "
            "recently freed inodes make it cost; compare trees only within one run."
        )
    finally:
        for store in work.glob("store-*"):
            subprocess.run(["umount", "-R", str(store)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
