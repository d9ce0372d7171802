"""``debian:<suite>[-slim]`` without Docker Hub: debootstrap into a scratch directory,
tidied as the official images are (see ``_tidy``), written as one layer into the store.

debootstrap must run as root (it creates device nodes and chroots to configure
packages). Its output is passed to the progress sink as it comes: the first line of
each phase (retrieving, validating, extracting, unpacking, configuring ...) and every
warning or error; on failure the last lines are shown too.

Another architecture (``arch="arm64"``) is debootstrap's ``--arch``: its first stage
unpacks the packages here, its second stage runs their maintainer scripts in a chroot,
which for a foreign architecture runs through qemu-user (binfmt_misc); the handler is
checked before anything is downloaded (minutes, not seconds: every dpkg run is
emulated).

The image's date (``created`` and the clamp on every mtime) is ``$SOURCE_DATE_EPOCH``,
else the build date of the newest package installed, so two runs against the same
mirror state give the same dates.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final
from urllib.parse import urlsplit

from imageforge.bootstrap._arch import debian_arch, host_debian_arch
from imageforge.bootstrap._image import DEFAULT_PATH, single_layer_image
from imageforge.bootstrap._mirror import apt_mirror
from imageforge.bootstrap._tidy import clean, minimize, package_epoch, slimify
from imageforge.errors import InvalidArgument, Unavailable
from imageforge.layers import (
    Compression,
    ingest_layer,
    source_date_epoch,
    write_layer_from_dir,
)
from imageforge.oci import Image, rfc3339
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime import check_foreign_exec, in_user_namespace
from imageforge.store import Store

__all__ = ["DEBIAN_VARIANTS", "debian_image", "find_debootstrap"]

DEBIAN_VARIANTS: Final = ("minbase", "buildd", "default")
SCRIPTS: Final = Path("/usr/share/debootstrap/scripts")
_SUITE = re.compile(r"[a-z][a-z0-9.+-]*")
_MIRROR_SCHEMES: Final = ("http", "https", "ftp", "file")
_TIMEOUT: Final = 1800
_TAIL: Final = 12


def find_debootstrap() -> str:
    """The debootstrap program, or :class:`Unavailable` with how to get it."""
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found is None:
        raise Unavailable(
            "debootstrap is not installed", hint="apt-get install debootstrap (or 'make setup')"
        )
    return found


def _check_suite(suite: str) -> None:
    if not _SUITE.fullmatch(suite):
        raise InvalidArgument(
            f"suite {suite!r} is not a Debian suite name", hint="e.g. bookworm, trixie, stable"
        )


def _check_scripts(suite: str) -> None:
    if SCRIPTS.is_dir() and not (SCRIPTS / suite).exists():
        known = sorted(p.name for p in SCRIPTS.iterdir() if p.name[:1].islower())
        raise InvalidArgument(
            f"debootstrap does not know the suite {suite!r}",
            hint=f"known suites: {', '.join(known)}" if known else None,
        )


def _check_mirror(mirror: str) -> str:
    parts = urlsplit(mirror)
    if parts.scheme not in _MIRROR_SCHEMES or not (parts.netloc or parts.path.startswith("/")):
        raise InvalidArgument(
            f"mirror {mirror!r} is not an http, https, ftp or file URL",
            hint="e.g. --mirror http://deb.debian.org/debian",
        )
    return mirror.rstrip("/")


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    prefix = str(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5:
                continue
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


@contextmanager
def _scratch(workdir: Path | None, progress: ProgressSink) -> Iterator[Path]:
    """A temp dir, removed afterwards. debootstrap mounts /proc (and, in some setups,
    binds /dev) inside the target and may leave them mounted if it dies: unmount first,
    and never delete through a mount that is still there."""
    tmp = Path(tempfile.mkdtemp(prefix="imageforge-debian-", dir=workdir))
    try:
        yield tmp
    finally:
        for point in _mounts_under(tmp):
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
        left = _mounts_under(tmp)
        if left:
            progress.note(f"debian: {tmp} left in place: still mounted: {', '.join(left)}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _follow(lines: IO[str], key: str, tail: deque[str], progress: ProgressSink) -> None:
    """Pass on the first line of each phase (the verb after ``I:``: Retrieving,
    Validating, Extracting ...) and every other line (warnings, errors)."""
    seen: set[str] = set()
    for raw in lines:
        line = raw.rstrip()
        if not line:
            continue
        tail.append(line)
        progress.advance(key)
        words = line.split()
        phase = words[1] if len(words) > 1 and words[0] == "I:" else ""
        if not phase or phase not in seen:
            progress.note(f"debootstrap: {line}")
            seen.add(phase)


def _run_debootstrap(args: list[str], progress: ProgressSink, what: str, log: Path) -> None:
    key = f"debootstrap-{time.monotonic_ns()}"
    progress.start(key, what, None, "lines")
    tail: deque[str] = deque(maxlen=_TAIL)
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    with subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=env,
    ) as proc:
        assert proc.stdout is not None
        # A mirror that stops answering must not hang the command for ever.
        timer = threading.Timer(_TIMEOUT, proc.kill)
        timer.start()
        try:
            _follow(proc.stdout, key, tail, progress)
        finally:
            timer.cancel()
        rc = proc.wait()
    if rc == 0:
        progress.done(key)
        return
    progress.done(key, f"exit {rc}", failed=True)
    lines = list(tail)
    try:
        # debootstrap's own log says why a download failed (wget's message).
        lines += [f"(log) {ln}" for ln in log.read_text(errors="replace").splitlines()[-5:]]
    except OSError:
        pass
    progress.note("debootstrap: last lines of its output:")
    for line in lines:
        progress.note(f"debootstrap: {line}")
    errors = [ln for ln in tail if ln.startswith("E:")]
    detail = (errors or list(tail) or ["no output"])[-1]
    raise Unavailable(
        f"{what} failed (exit {rc}): {detail}",
        hint="check the network and the mirror (--mirror URL); "
        "--progress plain shows debootstrap's output",
    )


def _debootstrap_version(program: str) -> str:
    try:
        out = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=60, check=False
        ).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return "debootstrap"
    return " ".join(out[:2]) if out else "debootstrap"


def debian_image(
    store: Store,
    *,
    suite: str = "bookworm",
    slim: bool = False,
    mirror: str | None = None,
    variant: str = "minbase",
    progress: ProgressSink = NULL_PROGRESS,
    workdir: Path | None = None,
    compression: Compression = "gzip",
    sources: Path = Path("/etc/apt"),
    arch: str | None = None,
) -> Image:
    """A Debian base image made with ``debootstrap --variant=VARIANT SUITE DIR MIRROR``
    (``variant="default"`` passes no variant), its layer written into ``store``
    (unnamed: name it with ``transports.write_image``). ``mirror`` defaults to the
    host's (:func:`apt_mirror` over ``sources``); ``slim`` removes what Debian's slim
    images remove. ``workdir`` holds the scratch tree (about 200 MB) instead of $TMPDIR.
    ``arch``: a Debian architecture or platform (``arm64``, ``linux/arm/v7``; default
    this machine's); a foreign one needs a qemu-user binfmt_misc handler.
    """
    _check_suite(suite)
    wanted = debian_arch(arch) if arch else None
    if wanted is not None and wanted.name == host_debian_arch():
        wanted = None  # this machine's: as without --arch
    if wanted is not None:
        check_foreign_exec(wanted.platform)  # before any download
    if variant not in DEBIAN_VARIANTS:
        raise InvalidArgument(
            f"unknown debootstrap variant {variant!r}",
            hint=f"use one of {', '.join(DEBIAN_VARIANTS)}",
        )
    url = _check_mirror(mirror) if mirror is not None else apt_mirror(sources)
    program = find_debootstrap()
    _check_scripts(suite)
    if os.geteuid() != 0 or in_user_namespace():
        raise Unavailable(
            "debootstrap must run as root (it creates device nodes and chroots), "
            "which root in a user namespace (rootless mode) is not",
            hint="run 'imageforge bootstrap debian' as root, 'imageforge export' the image "
            "to oci:DIR and 'imageforge import' it as the user",
        )
    epoch = source_date_epoch()
    tool = _debootstrap_version(program)
    with _scratch(workdir, progress) as tmp:
        root = tmp / "rootfs"
        args = [program, *([f"--variant={variant}"] if variant != "default" else [])]
        if wanted is not None:
            args.append(f"--arch={wanted.name}")
        for_arch = f" for {wanted.name}" if wanted is not None else ""
        _run_debootstrap(
            [*args, suite, str(root), url],
            progress,
            f"debootstrap {suite} ({variant}){for_arch} from {url}",
            root / "debootstrap" / "debootstrap.log",
        )
        if epoch is None:
            epoch = package_epoch(root) or int(time.time())
        minimize(root)
        clean(root, epoch)
        if slim:
            slimify(root)
        clamp = epoch
        with store.writing():
            layer = ingest_layer(
                store.blobs,
                lambda dst: write_layer_from_dir(
                    root, dst, compression=compression, mtime_clamp=clamp, xattrs=True
                ),
                progress=progress,
                what=f"debian {suite}{'-slim' if slim else ''}",
                ref_prefix="bootstrap",
            )
    flags = f"--suite {suite} --variant {variant}{' --slim' if slim else ''}"
    if wanted is not None:
        flags += f" --arch {wanted.name}"
    return single_layer_image(
        layer,
        created=rfc3339(epoch),
        created_by=f"imageforge bootstrap debian {flags} ({tool}, {url})",
        env=[DEFAULT_PATH],
        cmd=["bash"],
        platform=wanted.platform if wanted is not None else None,
    )
