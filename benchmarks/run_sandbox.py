"""What the sandbox of a RUN step costs: a build of N ``RUN true`` steps (none cached)
over a busybox base, once per network mode (none, private, host) and with the seccomp
filter on and off, rounds interleaved so load on the machine hits every variant alike.
Prints the median build time and the median cost per RUN step of each variant against
``--network none --security-opt seccomp=unconfined`` (no network, no filter).

With ``--baseline SRC`` (a checkout's ``src`` directory, e.g. from
``git archive main src | tar -x -C /tmp/main``) the same builds also run with that code
under its own defaults, for the before/after of a change. Run by hand, as root, not in
tests::

    .venv/bin/python benchmarks/run_sandbox.py [--steps 20] [--rounds 5] [--baseline SRC]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.builder.conftest import _busybox_rootfs  # noqa: E402

PYTHON = str(HERE / ".venv" / "bin" / "python")
VARIANTS: dict[str, list[str]] = {
    "none, unconfined": ["--network", "none", "--security-opt", "seccomp=unconfined"],
    "none": ["--network", "none"],
    "host": ["--network", "host"],
    "private (default)": [],
    "private, unconfined": ["--security-opt", "seccomp=unconfined"],
}


def _imageforge(*args: str) -> list[str]:
    return [PYTHON, "-m", "imageforge", *args]


def _env(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src if src is not None else HERE / "src")
    return env


def _sh(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, default=None)
    opts = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    work = Path(tempfile.mkdtemp(prefix="ifbench-sandbox-", dir="/tmp"))
    try:
        rootfs = work / "rootfs"
        _busybox_rootfs(rootfs)
        ctx = work / "ctx"
        ctx.mkdir()
        lines = ["FROM busybox"] + [f"RUN true {i}" for i in range(opts.steps)]
        (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
        variants: list[tuple[str, Path | None, list[str]]] = [
            (name, None, args) for name, args in VARIANTS.items()
        ]
        if opts.baseline is not None:
            variants.append(("baseline (its defaults)", opts.baseline.resolve(), []))
        times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        for r in range(opts.rounds):
            for name, src, args in variants:
                env = _env(src)
                store = work / f"store-{r}-{len(times[name])}-{abs(hash(name))}"
                root = ["--root", str(store)]
                _sh(_imageforge(*root, "import", f"rootfs:{rootfs}", "-t", "busybox"), env)
                # a first build unpacks the base and probes the runtime: not measured
                _sh(_imageforge(*root, "build", str(ctx), "-t", "warm:1", *args), env)
                started = time.monotonic()
                _sh(_imageforge(*root, "build", str(ctx), "-t", "b:1", "--no-cache", *args), env)
                times[name].append(time.monotonic() - started)
                subprocess.run(["umount", "-R", str(store)], capture_output=True, check=False)
                shutil.rmtree(store, ignore_errors=True)
            print(f"round {r + 1}/{opts.rounds} done", file=sys.stderr)
        base = statistics.median(times["none, unconfined"])
        print(f"{opts.steps} RUN steps, {opts.rounds} rounds, medians:")
        for name, _, _ in variants:
            med = statistics.median(times[name])
            per_step = (med - base) / opts.steps * 1000
            print(f"  {name:26} {med:6.2f} s   {per_step:+6.1f} ms per RUN vs none, unconfined")
    finally:
        subprocess.run(["umount", "-R", str(work)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
