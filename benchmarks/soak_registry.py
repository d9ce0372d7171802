"""Soak a registry under faults, beside distribution 2.8 in the same run (#33's load pass).

For each server: PUSHERS threads push PUSHES small images each with ``skopeo copy``
(each image its own random layer, tagged ``soak/p<i>:<n>``; its manifest digest is kept
from ``--digestfile`` when skopeo says the push succeeded). Meanwhile the server is killed
with SIGKILL KILLS times at random moments and restarted; for imageforge a GC loop runs
too (``registry gc --grace 30s``, itself killed now and then; with ``--grace 0`` a GC
rightly removes blobs whose manifest has not arrived yet), while distribution's GC is
offline-only and runs once at the end, as its documentation asks.

Then the server is restarted cleanly, every acknowledged tag is pulled back with skopeo
(which re-hashes every blob against its digest) and compared with the digest the push
reported, GC runs once more (imageforge: ``--grace 0 --upload-expiry 1s``), and the
script reports: pushes tried and acknowledged, pulls failed or changed, the bytes in the
data directory beyond the acknowledged images' unique blobs and the metadata database
("left behind"), and the server's RSS and open files after warm-up and at the end.

    .venv/bin/python benchmarks/soak_registry.py [--pushers 8] [--pushes 25] [--kills 5]
        [--only imageforge|distribution]

Not run in CI: it takes minutes and its figures go in the notes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registry_serve import (  # noqa: E402 - a sibling script
    ADMIN_PASSWORD,
    free_port,
    start_distribution,
    start_imageforge,
    wait_up,
    write_blob,
)

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def make_image(layout: Path, tag: str, size: int) -> int:
    """An OCI layout holding one image with a random layer of ``size`` bytes; returns the
    bytes of its blobs."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    layer = write_blob(layout, os.urandom(size))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }
    cdesc = write_blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cdesc},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
    }
    raw = json.dumps(manifest).encode()
    mdesc = write_blob(layout, raw)
    ref = {
        "mediaType": MANIFEST,
        **mdesc,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [ref]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return size + len(json.dumps(config)) + len(raw)


@dataclass
class Server:
    kind: str
    work: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.work / ("imageforge-data" if self.kind == "imageforge" else "distribution-data")

    def start(self) -> None:
        if self.kind == "imageforge":
            self.proc = start_imageforge(self.work, self.port)
        else:
            self.proc = start_distribution(self.work, self.port)
        wait_up(self.url, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def usage(self) -> tuple[int, int]:
        """RSS in KiB and open file descriptors of the server process."""
        assert self.proc is not None
        rss = 0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        return rss, len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def gc(self) -> None:
        if self.kind == "imageforge":
            exe = Path(sys.executable).with_name("imageforge")
            args = [str(exe), "registry", "gc", "--data-dir", str(self.data)]
            args += ["--grace", "0", "--upload-expiry", "1s"]
        else:
            args = ["/usr/bin/docker-registry", "garbage-collect", "--delete-untagged"]
            args.append(str(self.work / "distribution.yml"))
        subprocess.run(args, capture_output=True, check=False)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def soak(kind: str, args: argparse.Namespace, images: Path) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"soak-{kind}-"))
    srv = Server(kind, work)
    srv.start()
    creds = ["--dest-creds", f"admin:{ADMIN_PASSWORD}"] if kind == "imageforge" else []
    acked: dict[str, tuple[str, Path]] = {}  # tag -> (manifest digest, its layout)
    tried = 0
    stop = threading.Event()
    errors: list[str] = []
    counter = threading.Lock()

    def push(i: int) -> None:
        nonlocal tried
        for n in range(args.pushes):
            layout = images / f"p{i}-{n}"
            tag = f"soak/p{i}:{n}"
            digestfile = work / f"digest-{i}-{n}"
            for attempt in range(8):  # a push cut by a kill is retried, as CI would
                with counter:
                    tried += 1
                r = subprocess.run(
                    ["skopeo", "copy", "--dest-tls-verify=false", *creds]
                    + [
                        "--digestfile",
                        str(digestfile),
                        f"oci:{layout}:t",
                        f"docker://127.0.0.1:{srv.port}/{tag}",
                    ],
                    capture_output=True,
                    check=False,
                )
                if r.returncode == 0:
                    acked[tag] = (digestfile.read_text().strip(), layout)
                    break
                errors.append(r.stderr.decode(errors="replace").strip()[-300:])
                time.sleep(1 + attempt)  # over half a minute in all: a restart's time

    def gc_loop() -> None:
        while not stop.is_set():
            exe = Path(sys.executable).with_name("imageforge")
            proc = subprocess.Popen(
                [str(exe), "registry", "gc", "--data-dir", str(srv.data), "--grace", "30s"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if random.random() < 0.3:
                time.sleep(random.uniform(0.05, 0.5))
                proc.kill()
            proc.wait()
            time.sleep(0.2)

    warm = srv.usage()
    threads = [threading.Thread(target=push, args=(i,)) for i in range(args.pushers)]
    for t in threads:
        t.start()
    gc_thread = threading.Thread(target=gc_loop) if kind == "imageforge" else None
    if gc_thread:
        gc_thread.start()
    for _ in range(args.kills):
        time.sleep(random.uniform(2, 6))
        if not any(t.is_alive() for t in threads):
            break
        srv.kill()
        srv.start()
    for t in threads:
        t.join()
    stop.set()
    if gc_thread:
        gc_thread.join()

    kinds = Counter(re.sub(r"[0-9a-f]{12,}|\d+", "N", e.split("msg=")[-1])[:160] for e in errors)
    for err, count in kinds.most_common():
        print(f"{kind}: {count} failed pushes: {err}", file=sys.stderr)
    srv.stop()
    srv.start()
    failed = changed = 0
    (work / "pulled").mkdir()
    src_creds = ["--src-creds", creds[1]] if creds else []
    for tag, (digest, _layout) in sorted(acked.items()):
        out = work / "pulled" / tag.replace("/", "_").replace(":", "_")
        r = subprocess.run(
            ["skopeo", "copy", "--src-tls-verify=false", *src_creds]
            + [f"docker://127.0.0.1:{srv.port}/{tag}"]
            + ["--digestfile", str(work / "pulled.digest"), f"oci:{out}:t"],
            capture_output=True,
            check=False,
        )
        if r.returncode != 0:
            failed += 1
            if failed <= 3:
                print(f"{kind}: pull of {tag} failed: {r.stderr.decode().strip()}", file=sys.stderr)
        elif (work / "pulled.digest").read_text().strip() != digest:
            changed += 1
        shutil.rmtree(out, ignore_errors=True)
    end = srv.usage()
    if kind == "distribution":
        srv.stop()  # its GC is offline only
    srv.gc()
    if kind == "distribution":
        srv.start()
    kept = sum(du(layout / "blobs") for _digest, layout in acked.values())
    # The metadata database is not left-behind data (distribution keeps its metadata as
    # small link files among the blobs, counted in).
    meta = sum(p.stat().st_size for p in srv.data.glob("meta.db*"))
    left = du(srv.data) - kept - meta
    for top in sorted(srv.data.iterdir()):
        size = du(top) if top.is_dir() else top.stat().st_size
        print(f"{kind}: {top.name}: {size} bytes", file=sys.stderr)
    srv.stop()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "server": kind,
        "pushes tried": tried,
        "pushes acknowledged": len(acked),
        "pulls failed": failed,
        "pulls changed": changed,
        "bytes left behind after GC": left,
        "RSS KiB warm/end": f"{warm[0]}/{end[0]}",
        "open files warm/end": f"{warm[1]}/{end[1]}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushers", type=int, default=8)
    parser.add_argument("--pushes", type=int, default=25)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--layer-kib", type=int, default=512)
    parser.add_argument("--only", choices=["imageforge", "distribution"])
    args = parser.parse_args()
    images = Path(tempfile.mkdtemp(prefix="soak-images-"))
    for i in range(args.pushers):
        for n in range(args.pushes):
            make_image(images / f"p{i}-{n}", "t", args.layer_kib << 10)
    rows = []
    for kind in ("imageforge", "distribution"):
        if args.only in (None, kind):
            rows.append(soak(kind, args, images))
            print(json.dumps(rows[-1]), flush=True)
    shutil.rmtree(images, ignore_errors=True)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    print(f"({args.pushers} pushers x {args.pushes} pushes, {args.kills} server kills)")


if __name__ == "__main__":
    main()
