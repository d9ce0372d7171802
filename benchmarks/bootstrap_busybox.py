"""Time ``imageforge bootstrap busybox`` beside the shell pipeline it replaces, measured
in the same run: ``apt-get download busybox-static`` + ``dpkg-deb -x`` + ``busybox
--install`` (hardlinks) into a rootfs, then ``umoci init/new/insert`` to make an OCI
image of it.

    .venv/bin/python benchmarks/bootstrap_busybox.py [--repeat 5]

Both download the package (ours with ``--source download``) so the network is in both
timings; ours also runs with the installed package (``--source installed``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def run(*args: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, cwd=cwd)


def ours(source: str) -> Callable[[Path], None]:
    cli = Path(sys.executable).with_name("imageforge")

    def go(tmp: Path) -> None:
        run(
            cli,
            "--root",
            tmp / "store",
            "bootstrap",
            "busybox",
            "--source",
            source,
            "--output",
            f"oci:{tmp / 'layout'}:latest",
            "--progress",
            "quiet",
        )

    return go


def peer(tmp: Path) -> None:
    run("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", "busybox-static", cwd=tmp)
    deb = next(tmp.glob("busybox-static_*.deb"))
    extracted = tmp / "x"
    run("dpkg-deb", "-x", deb, extracted)
    rootfs = tmp / "rootfs"
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "dev", "proc", "sys"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    run("cp", extracted / "bin" / "busybox", rootfs / "bin" / "busybox")
    run("chroot", rootfs, "/bin/busybox", "--install")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    layout = tmp / "layout"
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:latest")
    run("umoci", "insert", "--image", f"{layout}:latest", rootfs, "/")


def measure(fn: Callable[[Path], None], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-bb-") as tmp:
            start = time.perf_counter()
            fn(Path(tmp))
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases: dict[str, Callable[[Path], None]] = {
        "imageforge bootstrap busybox --source download": ours("download"),
        "imageforge bootstrap busybox --source installed": ours("installed"),
        "apt-get download + dpkg-deb + busybox --install + umoci": peer,
    }
    for name, fn in cases.items():
        times = measure(fn, args.repeat)
        print(f"{name:58} median {statistics.median(times):6.2f} s  min {min(times):6.2f} s")


if __name__ == "__main__":
    main()
