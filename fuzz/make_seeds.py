"""Write seed layers for the layer fuzz target into a directory: small tars made with
Python's ``tarfile`` (ustar, GNU and PAX formats) and with GNU tar (PAX, GNU long
names, sparse files, hardlinks, device nodes, whiteouts), each plain, gzip and zstd.

Generated on each run rather than committed: GNU tar's output depends on its version,
and a fresh set costs a second. ``python fuzz/make_seeds.py DIR``.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import zstandard


def _member(tar: tarfile.TarFile, name: str, data: bytes = b"", **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def _python_tar(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        _member(tar, "etc", type=tarfile.DIRTYPE, mode=0o755)
        _member(tar, "etc/hostname", b"box\n", mode=0o644, uid=1000, gid=1000)
        _member(tar, "bin/sh", type=tarfile.SYMTYPE, linkname="busybox")
        _member(tar, "bin/ash", type=tarfile.LNKTYPE, linkname="etc/hostname")
        _member(tar, "dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        _member(tar, "dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
        _member(tar, "run/fifo", type=tarfile.FIFOTYPE)
        _member(tar, "usr/.wh.old", b"")
        _member(tar, "var/.wh..wh..opq", b"")
        _member(tar, "opt/" + "long-directory-name/" * 8 + "file", b"x" * 600)
        if fmt == tarfile.PAX_FORMAT:
            info = tarfile.TarInfo("xattr")
            info.pax_headers = {"SCHILY.xattr.user.k": "v", "mtime": "1700000000.5"}
            tar.addfile(info)
    return buf.getvalue()


def _gnu_tar(tmp: Path, fmt: str) -> bytes | None:
    if shutil.which("tar") is None:
        return None
    root = tmp / f"root-{fmt}"
    (root / "d" / ("n" * 120)).mkdir(parents=True)
    (root / "d" / ("n" * 120) / "file").write_bytes(b"content\n")
    (root / "hard").write_bytes(b"hard\n")
    os.link(root / "hard", root / "hard2")
    os.symlink("../" + "t" * 150, root / "link")
    with open(root / "sparse", "wb") as f:
        f.seek(1 << 16)
        f.write(b"end")
    if os.geteuid() == 0:
        os.mknod(root / "null", 0o666 | 0o020000, os.makedev(1, 3))
    out = tmp / f"{fmt}.tar"
    subprocess.run(
        ["tar", f"--format={fmt}", "--sparse", "-cf", str(out), "-C", str(root), "."],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def main(target: str) -> None:
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    tars = {
        "py-ustar": _python_tar(tarfile.USTAR_FORMAT),
        "py-gnu": _python_tar(tarfile.GNU_FORMAT),
        "py-pax": _python_tar(tarfile.PAX_FORMAT),
        "empty": b"\0" * 1024,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("gnu", "pax", "ustar", "oldgnu"):
            try:
                data = _gnu_tar(Path(tmp), fmt)
            except subprocess.CalledProcessError:
                continue  # ustar cannot hold the long names: fine, the others can
            if data is not None:
                tars[f"gnutar-{fmt}"] = data
    for name, data in tars.items():
        (out / f"{name}.tar").write_bytes(data)
        (out / f"{name}.tar.gz").write_bytes(gzip.compress(data, mtime=0))
        (out / f"{name}.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(data))


if __name__ == "__main__":
    main(sys.argv[1])
