"""Rootless against root: the same small busybox Dockerfile built cold and fully cached by
imageforge and by buildah 1.28, each as root and as an unprivileged user with subordinate
ids (through a user namespace), from the same busybox base handed over as an OCI layout.

Run by hand as root (not in tests): ``.venv/bin/python benchmarks/rootless_build.py
[ROUNDS]``. A throwaway user is made (useradd -m) and removed afterwards. Both imageforge
runs use the same interpreter and the same readable copy of the code, so the difference
is the user namespace alone. buildah runs as the machine notes say: ``bud --layers
--isolation oci --runtime runc``. Prints the median wall time per tool, user and case.
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

from tests.builder.conftest import _busybox_rootfs  # noqa: E402
from tests.builder.rootless_user import (  # noqa: E402
    User,
    cli_for,
    make_user,
    readable_code,
    remove_user,
)

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
CONTAINERS_CONF = (
    '[containers]\ndefault_ulimits = ["nofile=1024:20000", "nproc=4096:4096"]\n'
    '[engine]\nruntime = "runc"\n'
)


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[-8:]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def _as_user(user: User, argv: list[str], **env: str) -> list[str]:
    full = {"HOME": str(user.home), "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
    full.update(env)
    env_args = [f"{k}={v}" for k, v in full.items()]
    return ["runuser", "-u", user.name, "--", "env", "-i", *env_args, *argv]


def _buildah(root: Path, ctx: Path) -> list[str]:
    return [
        "buildah",
        "--root",
        str(root / "root"),
        "--runroot",
        str(root / "run"),
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


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark makes a throwaway user")
    user = make_user(with_ranges=True)
    root_work = Path(tempfile.mkdtemp(prefix="ifbench-rootless-", dir="/tmp"))
    try:
        with readable_code() as code:
            cli = cli_for(user, code)
            work = user.home / "bench"
            rootfs = work / "rootfs"
            _busybox_rootfs(rootfs)
            ctx = work / "ctx"
            (ctx / "data").mkdir(parents=True)
            for i in range(200):
                (ctx / "data" / f"f{i}.txt").write_text(f"{i}\n" * 100)
            layout = work / "layout"
            ctx_dockerfile = DOCKERFILE.format(base=f"oci:{layout}:busybox")
            (ctx / "Dockerfile").write_text(ctx_dockerfile)
            (work / "containers.conf").write_text(CONTAINERS_CONF)
            subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(work)], check=True)
            seed = work / "seed"
            for args in (
                ["import", f"rootfs:{rootfs}", "-t", "busybox:base"],
                ["export", "busybox:base", f"oci:{layout}:busybox"],
            ):
                _timed(cli.argv(["--root", str(seed), *args]), user.home)

            root_if = ["env", f"PYTHONPATH={code.pythonpath}", cli.python, "-m", "imageforge"]
            results: dict[str, list[float]] = {}

            def record(name: str, cmd: list[str], cwd: Path) -> None:
                results.setdefault(f"{name} cold", []).append(_timed(cmd, cwd))
                results.setdefault(f"{name} cached", []).append(_timed(cmd, cwd))

            conf = str(work / "containers.conf")
            for r in range(rounds):
                build = ["build", str(ctx), "-t", "bench:1", "--progress", "quiet"]
                store = root_work / f"if-{r}"
                record("imageforge root    ", [*root_if, "--root", str(store), *build], root_work)
                record(
                    "imageforge rootless",
                    cli.argv(["--root", str(work / f"if-{r}"), *build]),
                    user.home,
                )
                record(
                    "buildah    root    ",
                    ["env", f"CONTAINERS_CONF={conf}", *_buildah(root_work / f"bah-{r}", ctx)],
                    root_work,
                )
                record(
                    "buildah    rootless",
                    _as_user(user, _buildah(work / f"bah-{r}", ctx), CONTAINERS_CONF=conf),
                    user.home,
                )
            for name, times in results.items():
                print(
                    f"{name} median {statistics.median(times):.2f} s "
                    f"(min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"
                )
    finally:
        subprocess.run(["umount", "-R", str(root_work)], capture_output=True, check=False)
        shutil.rmtree(root_work, ignore_errors=True)
        remove_user(user)


if __name__ == "__main__":
    main()
