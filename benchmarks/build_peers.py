"""imageforge build against buildah and BuildKit, cold and no-change rebuild, on three
cases from the same bases (issue #9):

- ``busybox``: a 7-step Dockerfile over a busybox base with a 200-file COPY;
- ``debian-app``: a Debian slim base (``imageforge bootstrap debian --slim``), an
  ``apt-get install`` step, a ``pip install -r requirements.txt`` step and an app COPY;
- ``context-20k``: the busybox Dockerfile with a 20,000-file context.

Run by hand, as root, not in tests::

    .venv/bin/python benchmarks/build_peers.py [ROUNDS] [CASE ...]

Peers, measured in the same run: buildah (``bud --layers --isolation oci --runtime runc``,
base from the same OCI layout) and BuildKit (Debian ``docker.io``'s dockerd started
here on a private socket and data root, ``/usr/bin/docker build`` with
``DOCKER_BUILDKIT=1``, base ``docker load``-ed from the same image). Every tool gets
host networking. Each round starts from an empty store / root / build cache: "load" gives it the
base (imageforge ``import``, ``buildah pull``, ``docker load`` — the peers unpack the
layers there, imageforge at the first RUN), "cold" is the first build, "load+cold" the
two together (a CI runner that starts empty), "rebuild" the same build again. Between
tools the script cleans up and syncs, so no tool runs while another's deletions are
still being written back. Prints
medians and the ratio to the faster peer.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.builder.conftest import _busybox_rootfs  # noqa: E402

IMAGEFORGE = str(HERE / ".venv" / "bin" / "imageforge")
DOCKER = "/usr/bin/docker"  # Debian docker.io 20.10: BuildKit without buildx

BUSYBOX_DOCKERFILE = """\
FROM {base}
ENV APP=/srv/app
WORKDIR /srv/app
COPY data/ data/
RUN echo built > built.txt && ls data | wc -l > count.txt
RUN rm /etc/group && echo done
USER nobody
CMD ["cat", "/srv/app/built.txt"]
"""

DEBIAN_DOCKERFILE = """\
FROM {base}
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \\
    python3 python3-pip ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt host-ca.crt ./
RUN pip install -q --no-cache-dir --break-system-packages --cert host-ca.crt -r requirements.txt
COPY app.py .
USER nobody
CMD ["python3", "/app/app.py"]
"""


# imageforge runs as an installed package would: from byte-compiled modules (pip
# compiles on install; an editable venv under PYTHONDONTWRITEBYTECODE=1 would
# recompile every module in every process, ~0.3 s that no user pays).
IF_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _sh(cmd: list[str], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    _sh(cmd, env)
    return time.perf_counter() - start


class Dockerd:
    """A private dockerd (its own socket, data root and exec root), stopped at exit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.sock = work / "docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_BUILDKIT="1")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.work / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as dockerd
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(self.work / "data"),
                "--exec-root",
                str(self.work / "exec"),
                "--pidfile",
                str(self.work / "dockerd.pid"),
                "-H",
                f"unix://{self.sock}",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver",
                "overlay2",
            ],
            stdout=log,
            stderr=log,
        )
        for _ in range(100):
            if subprocess.run([DOCKER, "info"], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        raise SystemExit(f"dockerd did not start: see {self.work / 'dockerd.log'}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def _case_contexts(work: Path) -> dict[str, tuple[Path, str]]:
    """case -> (context dir, Dockerfile template)."""
    contexts: dict[str, tuple[Path, str]] = {}
    for case, files in (("busybox", 200), ("context-20k", 20000)):
        ctx = work / f"ctx-{case}"
        (ctx / "data").mkdir(parents=True)
        for i in range(files):
            (ctx / "data" / f"f{i}.txt").write_text(f"{i}\n" * 100)
        contexts[case] = (ctx, BUSYBOX_DOCKERFILE)
    ctx = work / "ctx-debian-app"
    ctx.mkdir()
    (ctx / "requirements.txt").write_text("six==1.16.0\nidna==3.7\ncharset-normalizer==3.3.2\n")
    # The host's CA bundle: this machine reaches PyPI through a proxy whose CA only the
    # host trusts.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", ctx / "host-ca.crt")
    (ctx / "app.py").write_text("import idna, six\nprint(idna.encode('example.org'))\n")
    contexts["debian-app"] = (ctx, DEBIAN_DOCKERFILE)
    return contexts


def main() -> None:
    args = sys.argv[1:]
    rounds = int(args.pop(0)) if args and args[0].isdigit() else 3
    cases = args or ["busybox", "debian-app", "context-20k"]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(HERE / "src")],
        check=True,
        capture_output=True,
        env=IF_ENV,
    )
    work = Path(tempfile.mkdtemp(prefix="ifpeers-", dir="/var/tmp"))
    dockerd = Dockerd(work / "dockerd")
    (work / "dockerd").mkdir()
    try:
        seed = work / "seed"
        layouts: dict[str, Path] = {}
        archives: dict[str, Path] = {}
        rootfs = work / "busybox-rootfs"
        _busybox_rootfs(rootfs)
        _sh([IMAGEFORGE, "--root", str(seed), "import", f"rootfs:{rootfs}", "-t", "base:busybox"])
        if "debian-app" in cases:
            print("bootstrapping debian --slim for the debian-app case ...", flush=True)
            _sh(
                [
                    IMAGEFORGE,
                    "--root",
                    str(seed),
                    "bootstrap",
                    "debian",
                    "--slim",
                    "-t",
                    "base:debian",
                ]
            )
        for name in ("busybox", "debian"):
            if name == "debian" and "debian-app" not in cases:
                continue
            layouts[name] = work / f"layout-{name}"
            _sh(
                [
                    IMAGEFORGE,
                    "--root",
                    str(seed),
                    "export",
                    f"base:{name}",
                    f"oci:{layouts[name]}:{name}",
                ]
            )
            archives[name] = work / f"{name}.tar"
            _sh(
                [
                    IMAGEFORGE,
                    "--root",
                    str(seed),
                    "export",
                    f"base:{name}",
                    f"docker-archive:{archives[name]}:ifbench/{name}:base",
                ]
            )
        dockerd.start()
        conf = work / "containers.conf"
        conf.write_text(
            '[containers]\ndefault_ulimits = ["nofile=1024:20000", '
            '"nproc=4096:4096"]\n[engine]\nruntime = "runc"\n'
        )
        bah_env = dict(os.environ, CONTAINERS_CONF=str(conf))
        contexts = _case_contexts(work)
        for case in cases:
            ctx, template = contexts[case]
            base = "debian" if case == "debian-app" else "busybox"
            dockerfiles = {
                "imageforge": template.format(base=f"ifbench/{base}:base"),
                "buildah": template.format(base=f"localhost/ifbench/{base}:base"),
                "buildkit": template.format(base=f"ifbench/{base}:base"),
            }
            results: dict[str, dict[str, list[float]]] = {
                t: {"load": [], "cold": [], "rebuild": []} for t in dockerfiles
            }
            for r in range(rounds):
                for tool, text in dockerfiles.items():
                    dockerfile = work / f"Dockerfile.{case}.{tool}"
                    dockerfile.write_text(text)
                    cmd, env, cleanup = _tool_command(
                        tool, work, case, r, ctx, dockerfile, dockerd, bah_env
                    )
                    start = time.perf_counter()
                    _load_base(
                        tool, work, case, r, base, layouts[base], archives[base], bah_env, dockerd
                    )
                    results[tool]["load"].append(time.perf_counter() - start)
                    results[tool]["cold"].append(_timed(cmd, env))
                    results[tool]["rebuild"].append(_timed(cmd, env))
                    cleanup()
                    # the next tool starts with nothing of this one's left to write back
                    # (a store's deletion and a daemon's prune otherwise land in its run)
                    os.sync()
                    print(
                        f"  {case} round {r + 1} {tool}: base load {results[tool]['load'][-1]:.2f}"
                        f" s, cold {results[tool]['cold'][-1]:.2f} s, "
                        f"rebuild {results[tool]['rebuild'][-1]:.2f} s",
                        flush=True,
                    )
            print(f"\n== {case} ({rounds} rounds, medians; load {os.getloadavg()[0]:.1f})")
            for r_ in results.values():
                r_["load+cold"] = [a + b for a, b in zip(r_["load"], r_["cold"], strict=True)]
            for phase in ("cold", "load+cold", "rebuild"):
                med = {t: statistics.median(v[phase]) for t, v in results.items()}
                peer = min(med["buildah"], med["buildkit"])
                print(
                    f"  {phase:9s} imageforge {med['imageforge']:6.2f} s | buildah "
                    f"{med['buildah']:6.2f} s | buildkit {med['buildkit']:6.2f} s | "
                    f"ratio to faster peer {med['imageforge'] / peer:.2f}x"
                )
            print(flush=True)
    finally:
        dockerd.stop()
        subprocess.run(["umount", "-R", str(work)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


def _load_base(
    tool: str,
    work: Path,
    case: str,
    r: int,
    base: str,
    layout: Path,
    archive: Path,
    bah_env: dict[str, str],
    dockerd: Dockerd,
) -> None:
    """Give the tool's empty store the base image, as a CI runner that starts empty
    would pull it (timed apart from the build: buildah's pull and docker load unpack
    the layers, imageforge's import only stores them and unpacks at the first RUN)."""
    if tool == "imageforge":
        store = work / f"if-{case}-{r}"
        _sh(
            [IMAGEFORGE, "--root", str(store), "import", f"oci:{layout}:{base}"]
            + ["-t", f"ifbench/{base}:base"],
            IF_ENV,
        )
    elif tool == "buildah":
        broot = work / f"bah-{case}-{r}"
        storage = ["--root", str(broot / "root"), "--runroot", str(broot / "run")]
        storage += ["--storage-driver", "overlay"]
        out = (
            subprocess.run(
                ["buildah", *storage, "pull", "-q", f"oci:{layout}:{base}"],
                capture_output=True,
                text=True,
                env=bah_env,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        _sh(["buildah", *storage, "tag", out, f"localhost/ifbench/{base}:base"], bah_env)
    else:
        _sh([DOCKER, "load", "-i", str(archive)], dockerd.env)


def _tool_command(
    tool: str,
    work: Path,
    case: str,
    r: int,
    ctx: Path,
    dockerfile: Path,
    dockerd: Dockerd,
    bah_env: dict[str, str],
) -> tuple[list[str], dict[str, str] | None, Callable[[], None]]:
    tag = f"bench-{case}:{r}"
    if tool == "imageforge":
        store = work / f"if-{case}-{r}"
        cmd = [IMAGEFORGE, "--root", str(store), "build", str(ctx), "-f", str(dockerfile)]
        cmd += ["-t", tag, "--progress", "quiet", "--network", "host"]

        def cleanup_if() -> None:
            subprocess.run(["umount", "-R", str(store)], capture_output=True, check=False)
            shutil.rmtree(store, ignore_errors=True)

        return cmd, IF_ENV, cleanup_if
    if tool == "buildah":
        broot = work / f"bah-{case}-{r}"
        storage = ["--root", str(broot / "root"), "--runroot", str(broot / "run")]
        cmd = ["buildah", *storage, "--storage-driver", "overlay", "bud", "--layers"]
        cmd += ["--isolation", "oci", "--runtime", "runc", "--network", "host"]
        cmd += ["-f", str(dockerfile), "-t", tag, str(ctx)]

        def cleanup_bah() -> None:
            subprocess.run(
                ["buildah", *storage, "rmi", "--all", "--force"],
                capture_output=True,
                env=bah_env,
                check=False,
            )
            subprocess.run(["umount", "-R", str(broot)], capture_output=True, check=False)
            shutil.rmtree(broot, ignore_errors=True)

        return cmd, bah_env, cleanup_bah
    cmd = [DOCKER, "build", "-q", "--network", "host", "-f", str(dockerfile), "-t", tag, str(ctx)]

    def cleanup_bk() -> None:
        subprocess.run(
            [DOCKER, "rmi", "-f", tag], capture_output=True, env=dockerd.env, check=False
        )
        subprocess.run(
            [DOCKER, "builder", "prune", "-af"], capture_output=True, env=dockerd.env, check=False
        )
        # and the next round's docker load must not find the base's layers unpacked
        # already (it took 0.06 s instead of 0.12 s: nothing to unpack)
        subprocess.run(
            [DOCKER, "image", "prune", "-af"], capture_output=True, env=dockerd.env, check=False
        )

    # BuildKit's cold build must not find the previous round's cache.
    cleanup_bk()
    return cmd, dockerd.env, cleanup_bk


if __name__ == "__main__":
    main()
