"""Import a 1 GiB single-layer image from an OCI layout: imageforge vs skopeo copy.

Run by hand (not in tests): ``.venv/bin/python benchmarks/import_large_layer.py [GiB]``.
Prints wall time and peak RSS of each tool, measured in the same run on the same input.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 20


def make_layout(root: Path, size: int) -> None:
    """An OCI layout with one uncompressed layer holding ``size`` random-ish bytes."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer_path = root / "layer.tmp"
    block = os.urandom(CHUNK)
    with open(layer_path, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = size

        class Source:
            left = size

            def read(self, n: int = -1) -> bytes:
                n = min(n if n > 0 else CHUNK, self.left, CHUNK)
                self.left -= n
                return block[:n]

        tar.addfile(info, Source())  # type: ignore[arg-type]
    h = hashlib.sha256()
    with open(layer_path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    layer_digest, layer_size = h.hexdigest(), layer_path.stat().st_size
    layer_path.rename(blobs / layer_digest)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{layer_digest}",
                    "size": layer_size,
                }
            ],
        }
    ).encode()
    for blob in (config, manifest):
        (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "t"},
                    }
                ],
            }
        )
    )


def measure(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed")
    return elapsed, usage.ru_maxrss * 1024


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    size = int(gib * 1024**3)
    imageforge = str(Path(sys.executable).with_name("imageforge"))
    with tempfile.TemporaryDirectory(prefix="if-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        make_layout(work / "src", size)
        rows = []
        for run in range(2):
            for name, argv, out in (
                (
                    "imageforge import",
                    [
                        imageforge,
                        "--root",
                        str(work / "store"),
                        "import",
                        f"oci:{work / 'src'}:t",
                        "-t",
                        "big:1",
                        "--progress",
                        "quiet",
                    ],
                    work / "store",
                ),
                (
                    "skopeo copy",
                    ["skopeo", "copy", "-q", f"oci:{work / 'src'}:t", f"oci:{work / 'dst'}:t"],
                    work / "dst",
                ),
            ):
                shutil.rmtree(out, ignore_errors=True)
                subprocess.run(["sync"], check=True)
                secs, rss = measure(argv)
                rows.append((run + 1, name, secs, rss))
        print(f"layer: {size / 1024**3:.2f} GiB uncompressed, one layer")
        print(f"{'run':>3}  {'tool':<18} {'seconds':>8} {'MiB/s':>8} {'peak RSS MiB':>13}")
        for run, name, secs, rss in rows:
            print(
                f"{run:>3}  {name:<18} {secs:8.2f} {size / 1024**2 / secs:8.0f}"
                f" {rss / 1024**2:13.1f}"
            )


if __name__ == "__main__":
    main()
