"""Pull-through proxy: the first (cold) and the second (cached) pull of a LAYERS x SIZE MiB
image through imageforge's proxy-cache project beside Debian's docker-registry
(distribution 2.8) in proxy mode (``proxy: remoteurl:``), both in front of the same
upstream (a plain distribution on loopback), with skopeo as the client (``skopeo copy``
into a ``dir:`` target), measured in the same run.

Every round starts both proxies on fresh data directories (so the first pull is cold)
and pulls twice through each; the median of ROUNDS rounds is printed with the machine's
load average before and after. imageforge serves the proxy project ``hub`` (created
through its API, public), pulled as ``hub/bench/app:1``; distribution's proxy is pulled
as ``bench/app:1``.

    .venv/bin/python benchmarks/registry_proxy.py [--layers 4] [--size-mib 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from registry_client import IF, Registry, free_port, run, timed  # this directory's

PASSWORD = "bench-admin-pw"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    hexd = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / hexd).write_bytes(data)
    return {"digest": f"sha256:{hexd}", "size": len(data)}


def make_layout(layout: Path, layers: int, size_mib: int) -> None:
    """An OCI layout holding ``app:1``: ``layers`` layers of random bytes."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    descs = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            **_blob(layout, os.urandom(size_mib << 20)),
        }
        for _ in range(layers)
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **_blob(layout, json.dumps(config).encode()),
        },
        "layers": descs,
    }
    ref = {"mediaType": MANIFEST, **_blob(layout, json.dumps(manifest).encode())}
    ref["annotations"] = {"org.opencontainers.image.ref.name": "1"}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [ref]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def _wait(host: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(1200):
        try:
            httpx.get(f"http://{host}/v2/", timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}") from None
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait()


def imageforge_proxy(base: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    """``imageforge registry serve`` with the public proxy project ``hub`` of ``upstream``."""
    host = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "IMAGEFORGE_ADMIN_PASSWORD": PASSWORD}
    args = [*IF, "registry", "serve", "--addr", host, "--data-dir", str(base)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(host, proc, "imageforge registry serve")
        body = {"name": "hub", "public": True, "proxy_for": f"http://{upstream}"}
        r = httpx.post(f"http://{host}/api/v1/projects", json=body, auth=("admin", PASSWORD))
        r.raise_for_status()
    except BaseException:
        _stop(proc)
        raise
    return proc, f"{host}/hub"


def distribution_proxy(base: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    """docker-registry with ``proxy: remoteurl:`` set to ``upstream``."""
    host = f"127.0.0.1:{free_port()}"
    base.mkdir(parents=True)
    cfg = base / "config.yml"
    cfg.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {base / 'data'}\nhttp:\n  addr: {host}\n"
        f"proxy:\n  remoteurl: http://{upstream}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait(host, proc, "docker-registry (proxy)")
    return proc, host


def _pull(src: str, out: Path) -> None:
    run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{src}", f"dir:{out}"])
    shutil.rmtree(out)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--size-mib", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    results: dict[str, dict[str, list[float]]] = {}
    try:
        layout = work / "layout"
        make_layout(layout, a.layers, a.size_mib)
        print(f"image: {a.layers} layers x {a.size_mib} MiB; median of {a.rounds} rounds")
        print(f"load average before: {_load()}")
        with Registry(work / "upstream") as upstream:
            dest = f"docker://{upstream.host}/bench/app:1"
            run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:1", dest])
            starts = {"imageforge": imageforge_proxy, "distribution": distribution_proxy}
            for n in range(a.rounds):
                for name, start in starts.items():
                    proc, prefix = start(work / f"{name}-{n}", upstream.host)
                    try:
                        src, out = f"{prefix}/bench/app:1", work / "out"
                        row = results.setdefault(name, {})
                        pull = functools.partial(_pull, src, out)
                        row.setdefault("cold", []).append(timed(pull))
                        row.setdefault("cached", []).append(timed(pull))
                    finally:
                        _stop(proc)
                    shutil.rmtree(work / f"{name}-{n}", ignore_errors=True)
        total = a.layers * a.size_mib * 1.048576
        print(f"{'proxy':<14}{'cold pull s':>13}{'MB/s':>8}{'cached pull s':>15}{'MB/s':>8}")
        for name, row in results.items():
            cold, cached = statistics.median(row["cold"]), statistics.median(row["cached"])
            print(
                f"{name:<14}{cold:>13.2f}{total / cold:>8.0f}{cached:>15.2f}{total / cached:>8.0f}"
            )
        print(f"load average after: {_load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
