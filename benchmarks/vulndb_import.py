"""Import time and database size of ``imageforge vulndb import`` on real advisory data.

    .venv/bin/python benchmarks/vulndb_import.py SOURCE... [--repeat N] [--zip]

Each SOURCE is what ``vulndb import`` takes (``osv:DIR|ZIP``, ``debian-tracker:DIR``,
``debian-tracker-json:FILE``, ``alpine-secdb:DIR``), for example a checkout of
golang/vulndb (``osv:vulndb/data/osv``) and of pypa/advisory-database
(``osv:advisory-database/vulns``), or osv.dev's ``all.zip`` of an ecosystem. The data is
not part of the repository: fetch it first (the numbers of a run name what was read).

Every repetition imports all sources, one after the other, into a fresh store root (each
import builds the database beside the previous one and swaps it in, as a user's does)
and prints per source the wall and CPU time, the advisories and affected rows read, the
warnings and the database size after it. ``--zip`` also packs each OSV directory into a
zip first (osv.dev's shape) and imports that as well. The best of ``--repeat`` runs is
shown with the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from imageforge.vuln import db_path, import_source


@dataclass
class Row:
    spec: str
    wall: float
    cpu: float
    advisories: int
    affected: int
    warnings: int
    db_bytes: int


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _zip_of(directory: Path, into: Path) -> Path:
    target = into / f"{directory.name}-all.zip"
    if target.exists():
        return target
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix in (".json", ".yaml", ".yml"):
                zf.write(path, path.relative_to(directory).as_posix())
    return target


def run_once(specs: list[str], work: Path) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        root = Path(tmp)
        for spec in specs:
            warnings: list[str] = []
            wall0, cpu0 = time.perf_counter(), _cpu()
            report = import_source(root, spec, warnings.append)
            wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
            rows.append(
                Row(
                    spec,
                    wall,
                    cpu,
                    report.source.advisories,
                    report.source.affected,
                    len(warnings),
                    db_path(root).stat().st_size,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="+", help="what `imageforge vulndb import` takes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zip", action="store_true", help="also import each OSV dir as a zip")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    specs: list[str] = list(args.sources)
    if args.zip:
        for spec in args.sources:
            kind, _, location = spec.partition(":")
            if kind == "osv" and Path(location).is_dir():
                specs.append(f"osv:{_zip_of(Path(location), args.work)}")
    best: dict[str, Row] = {}
    for _ in range(args.repeat):
        for row in run_once(specs, args.work):
            if row.spec not in best or row.wall < best[row.spec].wall:
                best[row.spec] = row
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"best of {args.repeat} runs, load average {load}, {os.cpu_count()} CPUs")
    print(f"{'source':60} {'wall s':>7} {'cpu s':>7} {'advis.':>7} {'affect.':>8} "
          f"{'warn.':>6} {'adv/s':>7} {'db MiB':>7}")  # fmt: skip
    for spec in specs:
        r = best[spec]
        rate = r.advisories / r.wall if r.wall else 0.0
        print(
            f"{spec[-60:]:60} {r.wall:7.2f} {r.cpu:7.2f} {r.advisories:7} {r.affected:8} "
            f"{r.warnings:6} {rate:7.0f} {r.db_bytes / 2**20:7.2f}"
        )


if __name__ == "__main__":
    main()
