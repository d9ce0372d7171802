"""A Debian security tracker of the real one's size, made from the shared corpus's
excerpt, for ``vulndb_import.py`` where the real tracker cannot be fetched (this
workplace reaches no salsa.debian.org; the one GitHub mirror's JSON is too large to be
stored).

    .venv/bin/python benchmarks/debian_tracker_scaled.py OUT_DIR [--entries 320000]

The excerpt's 26 CVE entries are written again and again, each copy under a new CVE id
and with its package names suffixed by one of 2,000 tags (so the database has tens of
thousands of package names, as the real one), until ``--entries`` CVE entries are
written; ``data/DSA/list`` and ``data/DLA/list`` are copied as they are. What is
measured is the import's reading and writing of that many entries, not real data:
report it as such.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "debian-tracker-sample"
_CVE = re.compile(r"^CVE-\d{4}-\d+")
_PACKAGE = re.compile(r"^(\t(?:\[[a-z]+\] )?- )([a-z0-9][a-z0-9+.-]*)")


def _entries(text: str) -> list[list[str]]:
    entries: list[list[str]] = []
    for line in text.splitlines():
        if line and not line.startswith("\t"):
            entries.append([line])
        elif entries:
            entries[-1].append(line)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--entries", type=int, default=320_000)
    args = parser.parse_args()
    data = args.out / "data"
    for kind in ("DSA", "DLA"):
        (data / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy2(SAMPLE / "data" / kind / "list", data / kind / "list")
    sample = _entries((SAMPLE / "data" / "CVE" / "list").read_text())
    (data / "CVE").mkdir(parents=True, exist_ok=True)
    written = 0
    with (data / "CVE" / "list").open("w") as out:
        copy = 0
        while written < args.entries:
            tag = f"x{copy % 2000}"
            for entry in sample:
                if written >= args.entries:
                    break
                year = 1999 + written % 28
                out.write(_CVE.sub(f"CVE-{year}-{100000 + written}", entry[0]) + "\n")
                for line in entry[1:]:
                    out.write(_PACKAGE.sub(rf"\1\2-{tag}", line) + "\n")
                written += 1
            copy += 1
    size = (data / "CVE" / "list").stat().st_size
    print(f"{written} CVE entries, {size / 1e6:.1f} MB, in {data / 'CVE' / 'list'}")


if __name__ == "__main__":
    main()
