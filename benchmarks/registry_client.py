"""The registry client beside skopeo (and podman for pulls into local storage), measured
in the same run against the same server: Debian's docker-registry (distribution 2.8,
no auth) on a loopback port, a fresh data directory for every push so no blob is there
already.

The image: LAYERS layers of SIZE MiB random bytes each (gzip cannot shrink them), made
with ``imageforge import`` and exported to an OCI layout. Rows:

- push: ``imageforge copy oci:L docker://...`` vs ``skopeo copy oci:L docker://...``
- pull to a layout: ``imageforge copy docker://... oci:OUT`` vs ``skopeo copy``
- pull to local storage: ``imageforge pull`` (store: blobs verified, tars checked) vs
  ``podman pull`` (containers-storage: layers unpacked), each into an empty root

Each row prints the median and the best of the rounds for every tool, and the ratio of
imageforge's median to the fastest peer's median (the issue's table); the load average
is printed before and after, since a shared machine bends wall times.

    .venv/bin/python benchmarks/registry_client.py [--size-mib 64] [--layers 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from statistics import median

import httpx

from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.store import Store
from imageforge.transports import open_source, select_platform, write_image

IF = [str(Path(sys.executable).with_name("imageforge"))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], **kw: object) -> None:
    subprocess.run(args, check=True, capture_output=True, **kw)  # type: ignore[call-overload]


class Registry:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Registry:
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        cfg = self.base / "config.yml"
        cfg.write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.base / 'data'}\nhttp:\n  addr: {self.host}\n"
        )
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-client-"))
    try:
        store = work / "store"
        layout = work / "layout"
        for n in range(a.layers):
            tree = work / f"tree{n}"
            tree.mkdir()
            with open(tree / f"random{n}.bin", "wb") as f:
                for _ in range(a.size_mib):
                    f.write(os.urandom(1 << 20))
            run([*IF, "--root", str(store), "import", f"rootfs:{tree}", "-t", f"bench:{n}"])
        # one image holding every imported layer, exported as an OCI layout
        with ExitStack() as stack:
            st = Store(store)
            layers = [
                select_platform(stack.enter_context(open_source(f"bench:{n}", st))).layers()[0]
                for n in range(a.layers)
            ]
            combined = append_layers(empty_image(), *(Addendum(lyr) for lyr in layers))
            write_image(combined, f"oci:{layout}:1", st)
        total = a.size_mib * a.layers
        print(f"image: {a.layers} layers x {a.size_mib} MiB = {total} MiB; {a.repeat} rounds")
        print(f"load average before: {load_average()}")

        rows: dict[str, dict[str, list[float]]] = {}

        def add(row: str, tool: str, seconds: float) -> None:
            rows.setdefault(row, {}).setdefault(tool, []).append(seconds)

        for _ in range(a.repeat):
            for tool in ("imageforge", "skopeo"):
                with Registry(work / "reg") as reg:
                    dest = f"docker://{reg.host}/bench/app:1"
                    if tool == "imageforge":
                        cmd = [
                            *IF,
                            "copy",
                            f"oci:{layout}:1",
                            dest,
                            "--tls-verify=false",
                            "--progress",
                            "quiet",
                        ]
                    else:
                        cmd = ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:1", dest]
                    add("push", tool, timed(lambda c=cmd: run(c)))  # type: ignore[misc]
                    out = work / f"out-{tool}"
                    shutil.rmtree(out, ignore_errors=True)
                    if tool == "imageforge":
                        cmd = [
                            *IF,
                            "copy",
                            dest,
                            f"oci:{out}:1",
                            "--tls-verify=false",
                            "--progress",
                            "quiet",
                        ]
                    else:
                        cmd = ["skopeo", "copy", "--src-tls-verify=false", dest, f"oci:{out}:1"]
                    add("pull to oci layout", tool, timed(lambda c=cmd: run(c)))  # type: ignore[misc]
                    local = work / f"local-{tool}"
                    shutil.rmtree(local, ignore_errors=True)
                    if tool == "imageforge":
                        cmd = [
                            *IF,
                            "--root",
                            str(local),
                            "pull",
                            dest,
                            "--tls-verify=false",
                            "--progress",
                            "quiet",
                        ]
                        add("pull to local storage", tool, timed(lambda c=cmd: run(c)))  # type: ignore[misc]
                    if shutil.which("podman"):
                        pcmd = [
                            "podman",
                            "--root",
                            str(work / "podman-root"),
                            "--runroot",
                            str(work / "podman-run"),
                            "--storage-driver",
                            "vfs",
                            "pull",
                            "-q",
                            "--tls-verify=false",
                            dest,
                        ]
                        if tool == "skopeo":
                            shutil.rmtree(work / "podman-root", ignore_errors=True)
                            add(
                                "pull to local storage",
                                "podman (vfs)",
                                timed(lambda c=pcmd: run(c)),
                            )  # type: ignore[misc]
        print(f"load average after: {load_average()}")
        tools_order = ("imageforge", "skopeo", "podman (vfs)")
        print("median (best) seconds per tool; ratio = imageforge / fastest peer, medians")
        print(f"{'':24}" + "".join(f"{t:>18}" for t in tools_order) + f"{'ratio':>8}")
        for row, tools in rows.items():
            cells = ""
            for t in tools_order:
                if t in tools:
                    cells += f"{median(tools[t]):.2f}s ({min(tools[t]):.2f}s)".rjust(18)
                else:
                    cells += f"{'-':>18}"
            peers = [median(v) for t, v in tools.items() if t != "imageforge"]
            ratio = f"{median(tools['imageforge']) / min(peers):.2f}x" if peers else "-"
            print(f"{row:24}{cells}{ratio:>8}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
