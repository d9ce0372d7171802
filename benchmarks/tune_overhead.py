"""What sampling costs the load ``tune`` measures: the python-web example under the
built-in HTTP generator at a rate above what it can serve (so throughput is its
capacity), with the cgroup sampled every 0.2 s (tune's default), every 0.05 s, and not
at all, rounds interleaved so load on the machine hits every variant alike, all in one
run. Prints the median throughput and p95 latency of each and the change against no
sampling. Run by hand, as root, with python-web built into a store::

    imageforge --root R build examples/python-web -t python-web:1
    .venv/bin/python benchmarks/tune_overhead.py --root R [--rounds 5] [--seconds 6]
"""

from __future__ import annotations

import argparse
import socket
import statistics
from pathlib import Path

from imageforge.pipeline import FromResolver, Session
from imageforge.runtime import parse_publish
from imageforge.store import Store
from imageforge.tune import HttpLoad, MeasureOptions, measure

VARIANTS = {"none": None, "0.2s": 0.2, "0.05s": 0.05}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--image", default="python-web:1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rps", type=float, default=400.0)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    store = Store(args.root)
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in VARIANTS}
    with store.writing(), Session(store) as images:
        image = FromResolver(images)(args.image, None)
        for _ in range(args.rounds):
            for name, interval in VARIANTS.items():
                port = _port()
                m = measure(
                    store,
                    image,
                    MeasureOptions(
                        load=HttpLoad(f"http://127.0.0.1:{port}/", args.rps, args.concurrency),
                        duration=args.seconds,
                        warmup=1.0,
                        publish=[parse_publish(f"{port}:8080")],
                        interval=interval,
                    ),
                )
                p95 = (m.load.latency_ms or {}).get("p95", 0.0)
                results[name].append((m.load.throughput, p95))
                print(
                    f"{name:>6}: {m.load.throughput:7.1f}/s p95 {p95:6.1f} ms "
                    f"({len(m.samples)} samples)",
                    flush=True,
                )
    base = statistics.median(t for t, _ in results["none"])
    for name, runs in results.items():
        tput = statistics.median(t for t, _ in runs)
        p95 = statistics.median(p for _, p in runs)
        print(
            f"sampling {name:>6}: median {tput:7.1f}/s ({(tput / base - 1):+.1%} vs none), "
            f"p95 {p95:.1f} ms"
        )


if __name__ == "__main__":
    main()
