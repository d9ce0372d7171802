"""Time ``imageforge analyze`` and its peak memory on a 1 GiB, 20-layer image.

    .venv/bin/python benchmarks/analyze_large.py [--gib 1] [--layers 20] [--files 400]
                                                  [--repeat 3]

The image is written into a temporary store with ``layers.write_layer`` (gzip level 1):
each layer adds 400 files (``--files``), half random and half text-like, and every layer after the
first also overwrites 20 files of the layer below and deletes 20 others; layer 11
removes a whole directory, so both waste computations have work to do.
``imageforge analyze --format json`` then runs as a child process under
``/usr/bin/time -v`` (wall time, CPU time, peak RSS); the best of ``--repeat`` runs is
shown with the load average, since on a shared machine wall time depends on it.

There is no peer to measure beside it: dive is a Go program and is not installable
on this machine (no Go downloads), so only imageforge's numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imageforge.layers import Entry, EntryType, whiteout_entry, write_layer
from imageforge.oci import Descriptor, History, Image, Reference
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.store import Store
from imageforge.transports import BlobLayer, TransportRef, write_image

_TEXT = b"".join(b"line %06d of a text-like file, compressible\n" % i for i in range(4096))
_RANDOM = os.urandom(1 << 20)


def _content(seed: int, size: int) -> bytes:
    src = _RANDOM if seed % 2 else _TEXT
    start = (seed * 7919) % (len(src) // 2)
    out = bytearray()
    while len(out) < size:
        out += src[start : start + size - len(out)]
        start = 0
    return bytes(out)


def build(store: Store, total: int, layers: int, files: int) -> tuple[str, int]:
    image: Image = empty_image()
    per_file = total // (layers * files + (layers - 1) * 20)
    written = 0
    for n in range(layers):
        entries: list[tuple[Entry, bytes | None]] = [(Entry(f"l{n}", EntryType.DIR), None)]
        if n:
            for i in range(20):  # overwrite 20 files of the layer below
                entries.append((Entry(f"l{n - 1}/f{i}", EntryType.FILE, size=per_file), None))
            for i in range(20, 40):  # delete 20 others
                entries.append((whiteout_entry(f"l{n - 1}/f{i}"), None))
        if n == 10:
            entries.append((whiteout_entry("l3"), None))
        for i in range(files):
            entries.append((Entry(f"l{n}/f{i}", EntryType.FILE, size=per_file), None))
        with_content = [
            (e, _content(n * 1000 + k, e.size) if e.type is EntryType.FILE and e.size else data)
            for k, (e, data) in enumerate(entries)
        ]
        written += sum(e.size for e, _ in with_content)
        ingest = store.blobs.begin(f"bench-layer-{n}")
        info = write_layer(with_content, ingest, level=1, mtime_clamp=0)
        ingest.commit(info.size, info.digest)
        layer = BlobLayer(
            Descriptor(info.media_type, info.digest, info.size),
            info.diff_id,
            lambda d: store.blobs.open(d),
        )
        step = f"RUN make layer {n}"
        image = append_layers(image, Addendum(layer, History(created_by=step)))
    name = str(Reference.parse("bench/analyze:large").with_default_tag())
    write_image(image, TransportRef("store", name), store)
    return name, written


def run_once(root: Path, name: str) -> tuple[float, float, int, dict[str, object]]:
    cli = Path(sys.executable).with_name("imageforge")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            str(cli),
            "--root",
            str(root),
            "analyze",
            name,
            "--format",
            "json",
            "--progress",
            "quiet",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    peak_kib = int(m.group(1)) if m else -1
    cpu = sum(
        float(t) for t in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", proc.stderr)
    )
    return wall, cpu, peak_kib, json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--files", type=int, default=400, help="files added per layer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imageforge-bench-") as tmp:
        root = Path(tmp) / "store"
        t0 = time.perf_counter()
        name, written = build(Store(root), int(args.gib * (1 << 30)), args.layers, args.files)
        blobs = sum(p.stat().st_size for p in (root / "blobs").rglob("*") if p.is_file())
        print(
            f"image: {args.layers} layers of {args.files} files, "
            f"{written / (1 << 30):.2f} GiB of files, "
            f"{blobs / (1 << 30):.2f} GiB of blobs, built in {time.perf_counter() - t0:.1f}s"
        )
        best = None
        for _ in range(args.repeat):
            wall, cpu, peak, doc = run_once(root, name)
            print(
                f"  imageforge analyze: {wall:.2f}s wall, {cpu:.2f}s CPU, "
                f"peak RSS {peak / 1024:.0f} MiB"
            )
            if best is None or wall < best[0]:
                best = (wall, cpu, peak, doc)
        assert best is not None
        wall, cpu, peak, doc = best
        dive = doc["dive"]
        waste = doc["waste"]
        assert isinstance(dive, dict) and isinstance(waste, dict)
        print(
            f"best: {wall:.2f}s wall ({cpu:.2f}s CPU; load average {os.getloadavg()[0]:.1f}), "
            f"peak RSS {peak / 1024:.0f} MiB "
            f"(target: under 10 s and 200 MB); dive: none on this machine"
        )
        print(
            f"numbers: dive efficiency {dive['efficiency']:.4f}, wasted {dive['wastedBytes']}; "
            f"imageforge efficiency {waste['efficiency']:.4f}, wasted {waste['wastedBytes']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
