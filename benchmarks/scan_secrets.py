"""The secret scan of a 1 GiB image beside ``tar -xzf`` reading the same layers and
beside trivy's secret scan, medians of ``--repeat`` runs (target: under 1.5x tar's time).

    .venv/bin/python benchmarks/scan_secrets.py [--gib 1] [--layers 8] [--repeat 3]
    .venv/bin/python benchmarks/scan_secrets.py --prefilter     # the keyword search alone

The image is written into a temporary store with ``layers.write_layer`` (gzip, level 6
as ``docker push`` compresses): each layer adds files of 4 KiB to 2 MiB, about half of
the bytes text (this machine's Python sources, which hold words such as ``password``,
``token`` and ``key`` that the keyword search must let through) and half binary (random
bytes and ELF executables), plus planted secrets: a ``.env`` and an SSH key in layer
1, a PEM key deleted in layer 3, tokens in ENV. It is exported as a docker-archive for
trivy.

Measured, each as a child process (wall time; the load average is printed, since on a
shared machine wall time depends on it):

- ``tar``: ``tar -xzf`` of every layer blob into an empty directory, bottom first (what
  reading the image costs with the standard tools);
- ``imageforge``: :func:`imageforge.secrets.scan_image` on the stored image, interpreter
  start-up and imports included;
- ``trivy``: ``trivy image --input ARCHIVE --scanners secret --offline-scan`` with an
  empty cache directory each run (trivy's cache would otherwise skip the layers).

``--prefilter`` times the candidates for the keyword search over the text pool: a Python
``re`` alternation, ``bytes.find`` per keyword, pyahocorasick (when installed) and
Hyperscan (what the engine uses).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from imageforge.layers import Entry, EntryType, whiteout_entry, write_layer
from imageforge.oci import Descriptor, History, Image, Reference
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.store import Store
from imageforge.transports import BlobLayer, TransportRef, write_image

BIN = Path(sys.executable).parent
TRIVY = shutil.which("trivy", path=str(BIN)) or shutil.which("trivy") or "trivy"

_KEY = (
    b"-----BEGIN RSA PRIVATE KEY-----\n"
    + b"\n".join(
        bytes(random.Random(7).choices(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/", k=64))
        for _ in range(20)
    )
    + b"\n-----END RSA PRIVATE KEY-----\n"
)
_ENV = b"AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\nDB_PASSWORD=Tr0ub4dor-and-3\n"


def _text_pool(limit: int) -> bytes:
    """Real text: this machine's Python sources."""
    out = bytearray()
    root = Path(os.__file__).parent
    for path in sorted(root.rglob("*.py")):
        try:
            out += path.read_bytes()
        except OSError:
            continue
        if len(out) >= limit:
            break
    return bytes(out)


def _binary_pool(limit: int) -> bytes:
    out = bytearray(os.urandom(limit // 2))
    for path in sorted(Path("/usr/bin").iterdir()):
        if len(out) >= limit:
            break
        try:
            if path.is_file() and not path.is_symlink():
                out += path.read_bytes()[: 4 << 20]
        except OSError:
            continue
    return bytes(out[:limit])


def _slice(pool: bytes, rng: random.Random, size: int) -> bytes:
    start = rng.randrange(0, max(1, len(pool) - size))
    return pool[start : start + size]


def build(store: Store, total: int, layers: int) -> tuple[str, int]:
    rng = random.Random(1)
    text, binary = _text_pool(48 << 20), _binary_pool(48 << 20)
    image: Image = empty_image()
    per_layer = total // layers
    written = 0
    for n in range(layers):
        entries: list[tuple[Entry, bytes | None]] = [(Entry(f"app{n}", EntryType.DIR), None)]
        if n == 0:
            entries += [
                (Entry("srv/.env", EntryType.FILE, size=len(_ENV)), _ENV),
                (Entry("root/.ssh/id_rsa", EntryType.FILE, size=len(_KEY)), _KEY),
            ]
        if n == 1:
            entries.append(
                (Entry("etc/ssl/private/server.key", EntryType.FILE, size=len(_KEY)), _KEY)
            )
        if n == 3:
            entries.append((whiteout_entry("etc/ssl/private/server.key"), None))
        size = 0
        i = 0
        while size < per_layer:
            length = min(
                rng.choice((4 << 10, 16 << 10, 64 << 10, 256 << 10, 2 << 20)), per_layer - size
            )
            data = _slice(text if i % 2 else binary, rng, length)
            suffix = ".py" if i % 2 else ".bin"
            entries.append((Entry(f"app{n}/f{i}{suffix}", EntryType.FILE, size=len(data)), data))
            size += len(data)
            i += 1
        written += size
        ingest = store.blobs.begin(f"bench-secrets-{n}")
        info = write_layer(entries, ingest, level=6, mtime_clamp=0)
        ingest.commit(info.size, info.digest)
        layer = BlobLayer(
            Descriptor(info.media_type, info.digest, info.size),
            info.diff_id,
            lambda d: store.blobs.open(d),
        )
        image = append_layers(image, Addendum(layer, History(created_by=f"COPY app{n} /app{n}")))
    name = str(Reference.parse("bench/secrets:large").with_default_tag())
    write_image(image, TransportRef("store", name), store)
    return name, written


_OURS = """
import sys
from pathlib import Path
from imageforge.store import Store
from imageforge.transports import open_source, TransportRef
from imageforge.secrets import scan_image
store = Store(Path(sys.argv[1]))
with open_source(TransportRef("store", sys.argv[2]), store) as image:
    result = scan_image(image)
print(len(result.findings), result.stats.bytes)
"""


CPU: dict[str, list[float]] = {}


def _timed(argv: list[str], what: str = "") -> tuple[float, str]:
    """Wall time and stdout of ``argv``; its CPU time (children included) is kept in
    :data:`CPU` under ``what``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{argv[0]} failed: {err.read()[-2000:].decode(errors='replace')}")
        CPU.setdefault(what, []).append(usage.ru_utime + usage.ru_stime)
        return wall, out.read().decode()


def _layer_blobs(store: Store, name: str) -> list[Path]:
    from imageforge.transports import open_source

    with open_source(TransportRef("store", name), store) as image:
        assert isinstance(image, Image)
        return [store.root / "blobs" / "sha256" / layer.digest.hex for layer in image.layers()]


def _tar_size(blobs: list[Path]) -> int:
    import gzip

    total = 0
    for blob in blobs:
        with gzip.open(blob) as fh:
            while chunk := fh.read(1 << 24):
                total += len(chunk)
    return total


def run_tar(blobs: list[Path], scratch: Path) -> float:
    out = scratch / "tar-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    script = "set -e; " + "; ".join(f"tar -xzf {b} -C {out}" for b in blobs)
    wall, _ = _timed(["bash", "-c", script], "tar")
    shutil.rmtree(out, ignore_errors=True)
    return wall


def run_ours(root: Path, name: str) -> tuple[float, str]:
    return _timed([sys.executable, "-c", _OURS, str(root), name], "imageforge")


def run_trivy(archive: Path, scratch: Path) -> tuple[float, int]:
    cache = scratch / "trivy-cache"
    shutil.rmtree(cache, ignore_errors=True)
    wall, out = _timed(
        [
            TRIVY,
            "image",
            "--input",
            str(archive),
            "--scanners",
            "secret",
            "--offline-scan",
            "--format",
            "json",
            "--quiet",
            "--timeout",
            "60m",
            "--cache-dir",
            str(cache),
        ],
        "trivy",
    )
    doc = json.loads(out)
    found = sum(len(r.get("Secrets") or []) for r in doc.get("Results") or [])
    return wall, found


# -- the keyword search alone ----------------------------------------------------------


def prefilter() -> None:
    from imageforge.secrets import BUILTIN_RULES
    from imageforge.secrets._engine import Engine

    data = _text_pool(128 << 20)
    chunks = [data[i : i + (2 << 20)] for i in range(0, len(data), 2 << 20)]
    keywords = sorted({k for r in BUILTIN_RULES for k in r.keywords})
    print(f"text: {len(data) / 1e6:.0f} MB of Python sources, {len(keywords)} keywords")

    def timed(name: str, fn: Callable[[bytes], int]) -> None:
        start = time.perf_counter()
        hits = sum(fn(c) for c in chunks)
        wall = time.perf_counter() - start
        print(f"  {name:34} {wall:7.2f} s  {len(data) / wall / 1e6:7.0f} MB/s  ({hits} hits)")

    alternation = re.compile(b"|".join(re.escape(k) for k in keywords), re.IGNORECASE)
    if len(data) <= (256 << 20):
        sample = chunks[: max(1, len(chunks) // 16)]  # re is too slow for the whole text

        start = time.perf_counter()
        hits = sum(len({m.group().lower() for m in alternation.finditer(c)}) for c in sample)
        wall = time.perf_counter() - start
        size = sum(len(c) for c in sample)
        print(
            f"  {'re alternation, IGNORECASE':34} {wall:7.2f} s  {size / wall / 1e6:7.1f} MB/s"
            f"  ({hits} hits, on 1/16 of the text)"
        )

    def find_each(chunk: bytes) -> int:
        lower = chunk.lower()
        return sum(k in lower for k in keywords)

    timed("lower() + bytes.find per keyword", find_each)
    try:
        import ahocorasick  # type: ignore[import-not-found]
    except ImportError:
        print("  pyahocorasick: not installed (pip install pyahocorasick)")
    else:
        automaton = ahocorasick.Automaton()
        for i, k in enumerate(keywords):
            automaton.add_word(k.decode(), i)
        automaton.make_automaton()
        timed(
            "pyahocorasick (latin-1, lower())",
            lambda c: len({i for _, i in automaton.iter(c.decode("latin-1").lower())}),
        )
    engine = Engine(BUILTIN_RULES, ())
    every = frozenset(range(len(BUILTIN_RULES)))
    # the engine reports the rules whose keywords occur, not the keywords
    timed("hyperscan (imageforge's engine)", lambda c: len(engine._candidates(c, every)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prefilter", action="store_true", help="time the keyword search only")
    parser.add_argument("--no-trivy", action="store_true")
    parser.add_argument(
        "--work", type=Path, help="keep the image here between runs (built when missing)"
    )
    args = parser.parse_args()
    if args.prefilter:
        prefilter()
        return 0
    with tempfile.TemporaryDirectory(prefix="imageforge-bench-secrets-") as tmp:
        scratch = Path(tmp)
        work = args.work or scratch
        work.mkdir(parents=True, exist_ok=True)
        root = work / "store"
        store = Store(root)
        archive = work / "image.tar"
        name = str(Reference.parse("bench/secrets:large").with_default_tag())
        t0 = time.perf_counter()
        if args.work is None or not (work / "built").exists():
            name, _ = build(store, int(args.gib * (1 << 30)), args.layers)
            if not args.no_trivy:
                from imageforge.transports import copy

                copy(
                    TransportRef("store", name), TransportRef("docker-archive", str(archive)), store
                )
            (work / "built").touch()
        blobs = _layer_blobs(store, name)
        compressed = sum(b.stat().st_size for b in blobs)
        written = _tar_size(blobs)
        print(
            f"image: {len(blobs)} layers, {written / (1 << 30):.2f} GiB of layer tars, "
            f"{compressed / (1 << 30):.2f} GiB of gzip blobs, ready in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        tars, ours, trivys = [], [], []
        found = ""
        trivy_found = 0
        for n in range(args.repeat):
            tars.append(run_tar(blobs, scratch))
            wall, found = run_ours(root, name)
            ours.append(wall)
            line = f"  run {n + 1}: tar {tars[-1]:.2f} s, imageforge {wall:.2f} s"
            if not args.no_trivy:
                wall, trivy_found = run_trivy(archive, scratch)
                trivys.append(wall)
                line += f", trivy {wall:.2f} s"
            print(f"{line} (load average {os.getloadavg()[0]:.1f})", flush=True)
        tar, our = statistics.median(tars), statistics.median(ours)
        print(f"load average: {os.getloadavg()[0]:.2f}; medians of {args.repeat} runs")
        print(f"  tar -xzf (every layer):      {tar:6.2f} s   runs: {_runs(tars)}  {_cpu('tar')}")
        print(
            f"  imageforge secret scan:      {our:6.2f} s   runs: {_runs(ours)}  "
            f"({found.split()[0]} findings)  = {our / tar:.2f}x tar (target < 1.5x)  "
            f"{_cpu('imageforge')}"
        )
        if trivys:
            trivy = statistics.median(trivys)
            print(
                f"  trivy --scanners secret:     {trivy:6.2f} s   runs: {_runs(trivys)}  "
                f"({trivy_found} findings)  = {trivy / tar:.2f}x tar  {_cpu('trivy')}"
            )
    return 0


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _cpu(what: str) -> str:
    values = CPU.get(what) or [0.0]
    return f"CPU {statistics.median(values):.2f} s"


if __name__ == "__main__":
    sys.exit(main())
