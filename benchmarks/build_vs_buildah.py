"""Build the same small Dockerfile with imageforge and with buildah 1.28, cold and
fully cached, from the same busybox base handed over as an OCI layout.

Run by hand (not in tests): ``.venv/bin/python benchmarks/build_vs_buildah.py [ROUNDS]
[FILES]`` (FILES: how many files the context's ``data/`` holds, default 200; 20000 is
the "large context" case).
Prints the median wall time of each tool per case, measured in the same run. buildah
runs as the machine notes say: ``bud --layers --isolation oci --runtime runc``.
"""

from __future__ import annotations

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

from tests.build.conftest import _busybox_rootfs  # noqa: E402

IMAGEFORGE = [str(HERE / ".venv" / "bin" / "imageforge")]
DOCKERFILE = """\
FROM {base}
ENV APP=/srv/app
WORKDIR /srv/app
COPY data/ data/
RUN echo built > built.txt && ls data | wc -l > count.txt
RUN rm /etc/group && echo done
USER nobody
CMD ["cat", "/srv/app/built.txt"]
"""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    work = Path(tempfile.mkdtemp(prefix="ifbench-", dir="/tmp"))
    try:
        rootfs = work / "rootfs"
        _busybox_rootfs(rootfs)
        seed = work / "seed"
        subprocess.run(
            [*IMAGEFORGE, "--root", str(seed), "import", f"rootfs:{rootfs}", "-t", "busybox:base"],
            check=True,
            capture_output=True,
        )
        layout = work / "layout"
        subprocess.run(
            [*IMAGEFORGE, "--root", str(seed), "export", "busybox:base", f"oci:{layout}:busybox"],
            check=True,
            capture_output=True,
        )
        ctx = work / "ctx"
        (ctx / "data").mkdir(parents=True)
        for i in range(files):
            (ctx / "data" / f"f{i}.txt").write_text(f"{i}\n" * 100)
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=f"oci:{layout}:busybox"))
        conf = work / "containers.conf"
        conf.write_text(
            '[containers]\ndefault_ulimits = ["nofile=1024:20000", '
            '"nproc=4096:4096"]\n[engine]\nruntime = "runc"\n'
        )
        env = dict(os.environ, CONTAINERS_CONF=str(conf))
        results: dict[str, dict[str, list[float]]] = {
            "imageforge": {"cold": [], "cached": []},
            "buildah": {"cold": [], "cached": []},
        }
        for r in range(rounds):
            store = work / f"if-{r}"
            ours = [
                *IMAGEFORGE,
                "--root",
                str(store),
                "build",
                str(ctx),
                "-t",
                "bench:1",
                "--progress",
                "quiet",
            ]
            results["imageforge"]["cold"].append(_run(ours))
            results["imageforge"]["cached"].append(_run(ours))
            broot = work / f"bah-{r}"
            theirs = [
                "buildah",
                "--root",
                str(broot / "root"),
                "--runroot",
                str(broot / "run"),
                "--storage-driver",
                "overlay",
                "bud",
                "--layers",
                "--isolation",
                "oci",
                "--runtime",
                "runc",
                "--network",
                "host",
                "-t",
                "bench:1",
                str(ctx),
            ]
            results["buildah"]["cold"].append(_run(theirs, env))
            results["buildah"]["cached"].append(_run(theirs, env))
            subprocess.run(
                [
                    "buildah",
                    "--root",
                    str(broot / "root"),
                    "--runroot",
                    str(broot / "run"),
                    "rmi",
                    "--all",
                    "--force",
                ],
                capture_output=True,
                env=env,
                check=False,
            )
        for tool, cases in results.items():
            for case, times in cases.items():
                print(
                    f"{tool:10s} {case:6s} median {statistics.median(times):.2f} s "
                    f"(min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"
                )
    finally:
        subprocess.run(["umount", "-R", str(work)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
