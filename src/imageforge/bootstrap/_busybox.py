"""``busybox:latest`` without Docker Hub: Debian's ``busybox-static`` as a one-layer image.

The binary comes from the installed package when its checksum still matches dpkg's
record (offline, instant), else from ``apt-get download`` + ``dpkg-deb -x`` in a temp
dir. The layer is written from entries made here rather than from a directory on disk,
so owners (root), modes and mtimes are exactly what is listed and nothing of the host
leaks in: ``/bin/busybox``; one hardlink to it per applet at the path
``busybox --list-full`` gives (hardlinks as in Docker Hub's busybox: in a tar a hardlink
costs a header, like a symlink, but every applet stays a real file that still works when
copied out alone); ``/etc/passwd`` and ``/etc/group`` with root and nobody; ``/root``
0700, ``/tmp`` 1777 and the empty ``/dev``, ``/proc``, ``/sys``, ``/home``, ``/var``.
Every mtime is ``$SOURCE_DATE_EPOCH``, else the package's own date, so a second run
gives the same digest.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imageforge.bootstrap._image import DEFAULT_PATH, single_layer_image
from imageforge.errors import InvalidArgument, Unavailable
from imageforge.layers import (
    Compression,
    ContentSource,
    Entry,
    EntryType,
    ingest_layer,
    normalize_path,
    source_date_epoch,
    write_layer,
)
from imageforge.oci import Image, rfc3339
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime import is_static_elf
from imageforge.store import Store

__all__ = ["BUSYBOX_PACKAGE", "BusyboxSource", "busybox_applets", "busybox_image"]

BUSYBOX_PACKAGE = "busybox-static"
BusyboxSource = Literal["auto", "installed", "download"]
BUSYBOX_SOURCES: tuple[BusyboxSource, ...] = ("auto", "installed", "download")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
# Directories every image gets, with their modes (Docker Hub's busybox has these).
_DIRS = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o755,
    "root": 0o700,
    "sys": 0o755,
    "tmp": 0o1777,
    "usr": 0o755,
    "var": 0o755,
}
_BINARY = "bin/busybox"
_CANDIDATES = ("bin/busybox", "usr/bin/busybox")
_TIMEOUT = 300


@dataclass(frozen=True)
class _Busybox:
    binary: Path
    version: str
    origin: str  # "installed" | "downloaded"


def _run(args: list[str], *, cwd: Path | None = None, what: str) -> str:
    try:
        proc = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise Unavailable(
            f"{args[0]} is not installed (needed to {what})",
            hint="run this on Debian or Ubuntu, where apt-get and dpkg-deb are there",
        ) from None
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what}: {args[0]} took more than {_TIMEOUT} s") from None
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("E:")]
        detail = (errors or proc.stderr.strip().splitlines() or ["no output"])[-1]
        hint = "check the network and the mirror in /etc/apt/sources.list"
        if "Unable to locate" in detail or "no candidate" in detail:
            hint = "run 'apt-get update' so APT knows the package, then try again"
        raise Unavailable(f"cannot {what}: {detail}", hint=hint)
    return proc.stdout


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _installed(admindir: Path = Path("/var/lib/dpkg")) -> _Busybox | None:
    """The installed busybox-static, if dpkg says it is installed and its binary still
    has the checksum dpkg recorded (a locally changed binary is not Debian's)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Status}\t${Version}", BUSYBOX_PACKAGE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    status, _, version = out.stdout.partition("\t")
    if out.returncode != 0 or status != "installed" or not version:
        return None
    sums: dict[str, str] = {}
    md5sums = admindir / "info" / f"{BUSYBOX_PACKAGE}.md5sums"
    try:
        for line in md5sums.read_text().splitlines():
            digest, _, name = line.partition("  ")
            sums[name.strip()] = digest
    except OSError:
        return None
    for rel in _CANDIDATES:
        path = Path("/") / rel
        if rel in sums and path.is_file() and _md5(path) == sums[rel]:
            return _Busybox(path, version, "installed")
    return None


def _download(tmp: Path, progress: ProgressSink) -> _Busybox:
    """``apt-get download busybox-static`` into ``tmp`` and unpack it there."""
    if shutil.which("apt-get") is None:
        raise Unavailable(
            "apt-get is not installed and busybox-static is not either",
            hint="run this on Debian or Ubuntu, or install busybox-static",
        )
    progress.note(f"busybox: apt-get download {BUSYBOX_PACKAGE}")
    _run(
        # As root APT drops to the _apt user to download, who cannot write to a private
        # temp dir; the download is verified against the signed index all the same.
        ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", BUSYBOX_PACKAGE],
        cwd=tmp,
        what=f"download {BUSYBOX_PACKAGE}",
    )
    debs = sorted(tmp.glob(f"{BUSYBOX_PACKAGE}_*.deb"))
    if not debs:
        raise Unavailable(f"apt-get download left no {BUSYBOX_PACKAGE} package in {tmp}")
    version = _run(["dpkg-deb", "-f", str(debs[0]), "Version"], what=f"read {debs[0].name}").strip()
    root = tmp / "root"
    _run(["dpkg-deb", "-x", str(debs[0]), str(root)], what=f"unpack {debs[0].name}")
    for rel in _CANDIDATES:
        path = root / rel
        if path.is_file() and not path.is_symlink():
            return _Busybox(path, version, "downloaded")
    raise Unavailable(f"{debs[0].name} holds no busybox binary in /bin or /usr/bin")


def busybox_applets(binary: Path) -> list[str]:
    """The applet paths ``busybox --list-full`` names (relative, e.g. ``usr/bin/wget``)."""
    out = _run([str(binary), "--list-full"], what="list the busybox applets")
    applets: list[str] = []
    for line in out.splitlines():
        if not line.strip():
            continue
        path = normalize_path(line.strip(), what=f"busybox applet {line.strip()!r}")
        if path in ("", ".") or path.startswith("../"):
            raise InvalidArgument(f"busybox lists the applet path {line!r}")
        applets.append(path)
    if not applets:
        raise Unavailable(f"{binary} --list-full names no applets")
    return applets


def _order(paths: Iterator[str] | list[str]) -> list[str]:
    """Parents before children, by name within a directory; the busybox binary right
    after ``bin`` so every hardlink to it comes after it."""
    ordered = sorted(paths, key=lambda p: p.split("/"))
    ordered.remove(_BINARY)
    ordered.insert(ordered.index("bin") + 1, _BINARY)
    return ordered


def _entries(bb: _Busybox, applets: list[str], mtime: int) -> Iterator[tuple[Entry, ContentSource]]:
    files: dict[str, bytes] = {"etc/passwd": PASSWD.encode(), "etc/group": GROUP.encode()}
    links = [a for a in applets if a != _BINARY]
    dirs = dict(_DIRS)
    for path in [*links, *files, _BINARY]:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), 0o755)
    clash = sorted(set(links) & (set(dirs) | set(files)))
    if clash:
        raise InvalidArgument(f"busybox applet paths clash with the image's own: {clash}")
    for path in _order([*dirs, *files, *links, _BINARY]):
        if path in dirs:
            yield Entry(path, EntryType.DIR, mode=dirs[path], mtime=mtime), None
        elif path in files:
            data = files[path]
            yield Entry(path, EntryType.FILE, mode=0o644, size=len(data), mtime=mtime), data
        elif path == _BINARY:
            size = bb.binary.stat().st_size
            with bb.binary.open("rb") as f:
                yield Entry(path, EntryType.FILE, mode=0o755, size=size, mtime=mtime), f
        else:
            entry = Entry(path, EntryType.HARDLINK, mode=0o755, mtime=mtime, linkname=_BINARY)
            yield entry, None


def busybox_image(
    store: Store,
    *,
    progress: ProgressSink = NULL_PROGRESS,
    workdir: Path | None = None,
    compression: Compression = "gzip",
    source: BusyboxSource = "auto",
) -> Image:
    """A busybox base image from Debian's busybox-static, its layer written into
    ``store`` (unnamed: name it with ``transports.write_image``). ``source``: the
    installed package (``installed``), a fresh ``apt-get download`` (``download``), or
    the installed one when it is intact and a download otherwise (``auto``)."""
    if source not in BUSYBOX_SOURCES:
        raise InvalidArgument(
            f"unknown busybox source {source!r}", hint=f"use one of {', '.join(BUSYBOX_SOURCES)}"
        )
    epoch = source_date_epoch()
    with tempfile.TemporaryDirectory(prefix="imageforge-busybox-", dir=workdir) as tmp:
        bb = _installed() if source != "download" else None
        if bb is None:
            if source == "installed":
                raise Unavailable(
                    f"{BUSYBOX_PACKAGE} is not installed (or its /bin/busybox was changed)",
                    hint=f"apt-get install --reinstall {BUSYBOX_PACKAGE}, or use the download",
                )
            bb = _download(Path(tmp), progress)
        if not is_static_elf(bb.binary):
            raise Unavailable(f"{bb.binary} is not a statically linked ELF executable")
        progress.note(f"busybox: {bb.origin} {BUSYBOX_PACKAGE} {bb.version} ({bb.binary})")
        applets = busybox_applets(bb.binary)
        mtime = epoch if epoch is not None else int(bb.binary.stat().st_mtime)
        with store.writing():
            layer = ingest_layer(
                store.blobs,
                lambda dst: write_layer(_entries(bb, applets, mtime), dst, compression=compression),
                progress=progress,
                what="busybox",
                ref_prefix="bootstrap",
            )
    return single_layer_image(
        layer,
        created=rfc3339(mtime),
        created_by=f"imageforge bootstrap busybox ({BUSYBOX_PACKAGE} {bb.version})",
        env=[DEFAULT_PATH],
        cmd=["sh"],
    )
