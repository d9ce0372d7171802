"""The two-platform Go build (``examples/go-service``), emulated against cross-compiled,
imageforge beside buildah in the same run (issue #24):

- ``emulated``: the build stage is the target platform's (``FROM gobase-${TARGETARCH}``),
  so for the foreign platform ``go build`` itself runs under qemu-user;
- ``cross``: the build stage runs on the build machine's platform
  (``FROM --platform=$BUILDPLATFORM gobase-${BUILDARCH}``) and Go cross-compiles with
  ``GOARCH=$TARGETARCH``; only the final ``COPY`` differs per platform.

Both build ``linux/amd64,linux/arm64`` into one index: ``imageforge build --platform
... --no-cache`` and ``buildah bud --platform ... --manifest`` (``--isolation oci
--runtime runc``, ``--layers=false``, a fresh manifest list each round), both with
``--network none`` (the Go build needs none) and two platforms at once (buildah
``--jobs 2``; imageforge builds them in threads as the cores allow), from the same
bases. The bases are made once, before any timing: ``imageforge bootstrap debian --slim``
for each architecture (``--arch`` for the foreign one: debootstrap's second stage under
qemu) with ``golang-go`` installed by an imageforge build, exported to OCI layouts that
buildah pulls; every Go build starts with an empty Go build cache, so each compiles the
standard library packages it needs. Each timed build checks its result: an index (a
manifest list) that lists both platforms.

Run by hand, as root, not in tests::

    .venv/bin/python benchmarks/platform_build.py [ROUNDS]

Prints each build's time, then the medians of ROUNDS (default 3) and the load average.
Expect minutes: Go under qemu compiles several times slower than natively.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
IMAGEFORGE = [sys.executable, "-m", "imageforge"]
EXAMPLE = HERE / "examples" / "go-service"
PLATFORMS = "linux/amd64,linux/arm64"
ARCHS = ("amd64", "arm64")
# the build machine's architecture as Go and OCI name it
BUILD_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())

# imageforge runs as an installed package would: from byte-compiled modules, and from
# the tree this benchmark is in.
IF_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
IF_ENV["PYTHONPATH"] = str(HERE / "src")

GOBASE = """\
FROM debian-{arch}
RUN apt-get update -qq \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
       golang-go >/dev/null \\
    && rm -rf /var/lib/apt/lists/*
"""

TAIL = """\
WORKDIR /src
COPY go.mod main.go ./
ARG TARGETOS TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOCACHE=/tmp/gocache \\
    go build -trimpath -ldflags="-s -w" -o /out/go-service . && rm -rf /tmp/gocache

FROM scratch
COPY --from=build /out/go-service /go-service
ENTRYPOINT ["/go-service"]
"""

DOCKERFILES = {
    "emulated": "ARG TARGETARCH\nFROM {prefix}gobase-${{TARGETARCH}} AS build\n" + TAIL,
    "cross": "ARG BUILDARCH\nFROM --platform={buildplatform} {prefix}gobase-${{BUILDARCH}} "
    "AS build\n" + TAIL,
}


def _sh(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 7200) -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, check=False, timeout=timeout
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def _imageforge(store: Path, *args: str) -> str:
    return _sh([*IMAGEFORGE, "--root", str(store), *args], IF_ENV)


def _bases(work: Path, store: Path) -> dict[str, Path]:
    """gobase-amd64 and gobase-arm64 in the imageforge store and in OCI layouts."""
    layouts: dict[str, Path] = {}
    for arch in ARCHS:
        start = time.perf_counter()
        _imageforge(store, "bootstrap", "debian", "--slim", "--arch", arch, "-t", f"debian-{arch}")
        ctx = work / f"gobase-{arch}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(GOBASE.format(arch=arch))
        _imageforge(
            store,
            "build",
            str(ctx),
            "--platform",
            f"linux/{arch}",
            "--network",
            "host",
            "-t",
            f"gobase-{arch}",
            "--progress",
            "quiet",
        )
        layouts[arch] = work / f"layout-{arch}"
        _imageforge(store, "export", f"gobase-{arch}", f"oci:{layouts[arch]}:gobase")
        print(f"base gobase-{arch}: {time.perf_counter() - start:.0f} s", flush=True)
    return layouts


def _context(work: Path, case: str, prefix: str, tool: str) -> Path:
    ctx = work / f"ctx-{case}-{tool}"
    ctx.mkdir(exist_ok=True)
    for name in ("go.mod", "main.go"):
        shutil.copy(EXAMPLE / name, ctx / name)
    # buildah 1.28 (Debian 12) does not expand $BUILDPLATFORM in FROM --platform: it looks
    # the base up for the target platform and fails ("image not known"). It honours the
    # literal platform, which is what $BUILDPLATFORM means on this machine.
    buildplatform = "$BUILDPLATFORM" if tool == "imageforge" else f"linux/{BUILD_ARCH}"
    text = DOCKERFILES[case].format(prefix=prefix, buildplatform=buildplatform)
    (ctx / "Dockerfile").write_text(text)
    return ctx


def _check_index(raw: str) -> None:
    listed = json.loads(raw)
    archs = sorted(m["platform"]["architecture"] for m in listed["manifests"])
    if archs != list(ARCHS):
        raise SystemExit(f"the result lists {archs}, not {list(ARCHS)}")


class Buildah:
    """buildah with its own storage under the work dir, bases pulled from the layouts."""

    def __init__(self, work: Path, layouts: dict[str, Path]) -> None:
        conf = work / "containers.conf"
        conf.write_text(
            '[containers]\ndefault_ulimits = ["nofile=1024:20000", '
            '"nproc=4096:4096"]\n[engine]\nruntime = "runc"\n'
        )
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf))
        self.storage = ["--root", str(work / "bah" / "root"), "--runroot", str(work / "bah/run")]
        self.storage += ["--storage-driver", "overlay"]
        for arch, layout in layouts.items():
            out = _sh(["buildah", *self.storage, "pull", "-q", f"oci:{layout}:gobase"], self.env)
            image = out.strip().splitlines()[-1]
            _sh(["buildah", *self.storage, "tag", image, f"localhost/gobase-{arch}"], self.env)

    def build(self, ctx: Path, name: str) -> None:
        _sh(
            ["buildah", *self.storage, "bud", "--platform", PLATFORMS, "--manifest", name]
            + ["--isolation", "oci", "--runtime", "runc", "--layers=false", "--pull=never"]
            + ["--network", "none", "--jobs", "2", "--quiet"]
            # buildah 1.28 (Debian 12) defines BUILDPLATFORM but not BUILDARCH, which
            # BuildKit and imageforge define: given, so both build the same Dockerfile
            + ["--build-arg", f"BUILDARCH={BUILD_ARCH}", str(ctx)],
            self.env,
        )
        _check_index(_sh(["buildah", *self.storage, "manifest", "inspect", name], self.env))
        _sh(["buildah", *self.storage, "manifest", "rm", name], self.env)

    def close(self) -> None:
        for what in (["rm", "--all"], ["rmi", "--all", "--force"]):
            subprocess.run(
                ["buildah", *self.storage, *what], capture_output=True, env=self.env, check=False
            )


def main() -> None:
    args = sys.argv[1:]
    rounds = int(args[0]) if args else 3
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(HERE / "src")],
        check=True,
        capture_output=True,
        env=IF_ENV,
    )
    work = Path(tempfile.mkdtemp(prefix="ifplatforms-", dir="/var/tmp"))
    store = work / "store"
    bah: Buildah | None = None
    try:
        print(f"making the Go bases (load {os.getloadavg()[0]:.1f}) ...", flush=True)
        layouts = _bases(work, store)
        bah = Buildah(work, layouts)
        results: dict[tuple[str, str], list[float]] = {}
        for r in range(rounds):
            for case in DOCKERFILES:
                for tool in ("imageforge", "buildah"):
                    prefix = "localhost/" if tool == "buildah" else ""
                    ctx = _context(work, case, prefix, tool)
                    load = os.getloadavg()[0]
                    start = time.perf_counter()
                    if tool == "imageforge":
                        _imageforge(
                            store,
                            "build",
                            str(ctx),
                            "--platform",
                            PLATFORMS,
                            "--no-cache",
                            "--network",
                            "none",
                            "-t",
                            f"go-{case}:{r}",
                            "--progress",
                            "quiet",
                        )
                        took = time.perf_counter() - start
                        doc = _imageforge(store, "inspect", f"go-{case}:{r}", "--format", "json")
                        _check_index(json.dumps(json.loads(doc)["manifest"]))
                    else:
                        bah.build(ctx, f"go-{case}-{r}")
                        took = time.perf_counter() - start
                    results.setdefault((case, tool), []).append(took)
                    print(
                        f"round {r + 1} {case:8s} {tool:10s} {took:7.1f} s (load before "
                        f"{load:.1f})",
                        flush=True,
                    )
        print(f"\n== two-platform Go build, medians of {rounds} (load {os.getloadavg()[0]:.1f})")
        for case in DOCKERFILES:
            mine = statistics.median(results[(case, "imageforge")])
            peer = statistics.median(results[(case, "buildah")])
            print(
                f"  {case:8s} imageforge {mine:7.1f} s | buildah {peer:7.1f} s | "
                f"ratio {mine / peer:.2f}x"
            )
        for tool in ("imageforge", "buildah"):
            emulated = statistics.median(results[("emulated", tool)])
            cross = statistics.median(results[("cross", tool)])
            print(f"  {tool:10s} emulated / cross-compiled: {emulated / cross:.1f}x")
    finally:
        if bah is not None:
            bah.close()
        subprocess.run(["umount", "-R", str(work)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
