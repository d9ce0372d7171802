"""``imageforge import`` of a small base image beside ``docker load`` of the same tar
(issue #32, the start-up row): a busybox rootfs (~1 MB gzip-compressed, 2 MB as a tar),
made once with ``imageforge import rootfs:`` and exported to a ``docker-archive:`` tar
and an ``oci:`` layout.

Rows, each into an empty store every round:

- ``imageforge import docker-archive:TAR`` (layer digest, diff_id and every tar entry
  checked, blobs fsynced and renamed into place, the name written to ``refs.db``);
- ``imageforge import oci:LAYOUT`` (the same checks);
- ``docker load -i TAR`` against Debian ``docker.io``'s dockerd, started here on a private
  socket and data root (as ``build_peers.py`` does), the image removed after each round so
  every load unpacks its layer again.

The two do not do the same work: docker load unpacks the layer into overlay2 (in a
re-executed dockerd child, chrooted) and fsyncs only its metadata (6 fsyncs under
``strace -f``); imageforge stores the blobs verified and fsynced (4 fsyncs, plus SQLite's
fdatasyncs for the names: 15 on a fresh store) and unpacks at the first RUN.

Each row gives wall time and CPU time (user + system of the command and, for the docker
rows, what dockerd used meanwhile): on a shared machine the CPU time is the steadier
number. Floors measured in the same run: the venv's ``python -c pass`` (the interpreter's own
start) and ``docker version --format`` (the client's start plus one request to the
daemon). imageforge runs byte-compiled, as an installed package would. Medians of ROUNDS
rounds (at least 5), the load average printed before and after; then ``python -X
importtime`` of the ``docker-archive:`` import: the modules it loads, the slowest
top-level packages by their own import time and the slowest single modules.

``--baseline SRC`` times another source tree's imageforge as well (e.g. ``git archive
main src | tar -x -C /tmp/main``, then ``--baseline /tmp/main/src``): a change and what
it replaces, measured in the same rounds.

Run by hand, as root, not in tests::

    .venv/bin/python benchmarks/import_load.py [ROUNDS] [--baseline SRC]
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from benchmarks.build_peers import DOCKER, Dockerd  # noqa: E402
from tests.builder.conftest import _busybox_rootfs  # noqa: E402

PYTHON = str(HERE / ".venv" / "bin" / "python")
IMAGEFORGE = str(HERE / ".venv" / "bin" / "imageforge")


def _env(src: Path) -> dict[str, str]:
    """imageforge from ``src`` as an installed package runs: byte-compiled."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    return env


IF_ENV = _env(HERE / "src")


def _run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


_TICK = os.sysconf("SC_CLK_TCK")


def _daemon_cpu(pid: int | None) -> float:
    """User + system seconds the daemon and the children it waited for have used so far
    (``/proc/PID/stat``: docker load unpacks in a re-executed dockerd child)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / _TICK  # utime, stime, cutime, cstime


def _timed(
    cmd: list[str], env: dict[str, str] | None = None, daemon: int | None = None
) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (the command's, plus what ``daemon`` used meanwhile:
    ``docker load``'s work is done in dockerd)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    daemon_before = _daemon_cpu(daemon)
    start = time.perf_counter()
    _run(cmd, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu + _daemon_cpu(daemon) - daemon_before


def _importtime(work: Path, archive: Path) -> None:
    """Where the import command's start-up goes, from one ``-X importtime`` run."""
    store = work / "importtime-store"
    cmd = [PYTHON, "-X", "importtime", "-m", "imageforge", "--root", str(store)]
    cmd += ["import", f"docker-archive:{archive}", "-t", "bench/busybox:1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=IF_ENV, check=True)
    own: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _cumulative, name = line.removeprefix("import time:").split("|")
            own.append((int(self_us), name.strip()))
    by_package: collections.Counter[str] = collections.Counter()
    for us, name in own:
        parts = name.split(".")
        by_package[".".join(parts[:2]) if parts[0] == "imageforge" else parts[0]] += us
    total = sum(us for us, _ in own)
    print(
        f"\n== python -X importtime, import docker-archive: "
        f"({len(own)} modules, {total / 1e3:.0f} ms)"
    )
    print("  (not timed there: modules loaded by importlib.import_module, i.e. the command's")
    print("  own module and pipeline's lazily loaded ones; what they import is)")
    print("  slowest packages (their modules' own time):")
    for name, us in by_package.most_common(15):
        print(f"    {us / 1e3:6.1f} ms  {name}")
    print("  slowest modules (own time):")
    for us, name in sorted(own, reverse=True)[:10]:
        print(f"    {us / 1e3:6.1f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=7, help="at least 5")
    parser.add_argument("--baseline", type=Path, help="another imageforge src/ to time")
    args = parser.parse_args()
    rounds = max(5, args.rounds)
    trees = {"": HERE / "src"}
    if args.baseline is not None:
        trees[" (baseline)"] = args.baseline.resolve()
    for src in trees.values():
        subprocess.run(
            [PYTHON, "-m", "compileall", "-q", str(src)],
            check=True,
            capture_output=True,
            env=_env(src),
        )
    work = Path(tempfile.mkdtemp(prefix="ifimport-", dir="/var/tmp"))
    (work / "dockerd").mkdir()
    dockerd = Dockerd(work / "dockerd")
    try:
        rootfs = work / "busybox-rootfs"
        _busybox_rootfs(rootfs)
        seed = ["--root", str(work / "seed")]
        _run([IMAGEFORGE, *seed, "import", f"rootfs:{rootfs}", "-t", "base:busybox"], IF_ENV)
        archive = work / "busybox.tar"
        layout = work / "layout"
        _run([IMAGEFORGE, *seed, "export", "base:busybox", f"docker-archive:{archive}"], IF_ENV)
        _run([IMAGEFORGE, *seed, "export", "base:busybox", f"oci:{layout}:busybox"], IF_ENV)
        layer_bytes = sum(p.stat().st_size for p in (layout / "blobs").rglob("*") if p.is_file())
        print(
            f"image: busybox, {archive.stat().st_size / 1e6:.1f} MB docker-archive tar, "
            f"{layer_bytes / 1e6:.1f} MB of compressed blobs in the layout"
        )
        dockerd.start()
        load_before = os.getloadavg()
        times: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        pid = dockerd.proc.pid if dockerd.proc is not None else None
        for r in range(rounds):
            times["python -c pass"].append(_timed([PYTHON, "-c", "pass"]))
            times["docker version"].append(
                _timed([DOCKER, "version", "--format", "{{.Server.Version}}"], dockerd.env, pid)
            )
            for suffix, src in trees.items():
                for name, source in (
                    ("imageforge import docker-archive:", f"docker-archive:{archive}"),
                    ("imageforge import oci:", f"oci:{layout}:busybox"),
                ):
                    store = work / f"store-{r}"
                    cmd = [IMAGEFORGE, "--root", str(store), "import", source, "-t", "bench/bb:1"]
                    times[name + suffix].append(_timed(cmd, _env(src)))
                    shutil.rmtree(store)
            load = [DOCKER, "load", "-i", str(archive)]
            times["docker load"].append(_timed(load, dockerd.env, pid))
            _run([DOCKER, "rmi", "-f", "base:busybox"], dockerd.env)
            print(
                f"  round {r + 1}: "
                + ", ".join(f"{name} {v[-1][0] * 1e3:.0f} ms" for name, v in times.items()),
                flush=True,
            )
        load_after = os.getloadavg()
        print(
            f"\n== {rounds} rounds, medians (load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after; {os.cpu_count()} cores)"
        )
        print(f"  {'':45s} {'wall':>7s} {'(best)':>8s} {'ratio':>6s}  {'cpu':>6s} {'ratio':>6s}")
        docker = [statistics.median(x[i] for x in times["docker load"]) for i in (0, 1)]
        for name, values in times.items():
            wall, cpu = (statistics.median(x[i] for x in values) for i in (0, 1))
            best = min(x[0] for x in values)
            print(
                f"  {name:45s} {wall * 1e3:5.0f} ms ({best * 1e3:4.0f} ms) {wall / docker[0]:5.2f}x"
                f"  {cpu * 1e3:4.0f} ms {cpu / docker[1]:5.2f}x"
            )
        print("  (ratio: to docker load's; cpu: user+system of the command, and of dockerd)")
        _importtime(work, archive)
    finally:
        dockerd.stop()
        subprocess.run(["umount", "-R", str(work)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
