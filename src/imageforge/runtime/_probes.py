"""Kernel and host facts, each probed for real: overlayfs is mounted, a user namespace is
entered, cgroup and binfmt_misc mounts are read from the kernel's own tables."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imageforge.runtime._binfmt import BINFMT_DIR, binfmt_handlers
from imageforge.runtime._mount import MNT_DETACH, mount, umount
from imageforge.runtime._report import CheckItem
from imageforge.runtime._userns import in_user_namespace

__all__ = [
    "check_binfmt",
    "check_cgroups",
    "check_disk",
    "check_overlayfs",
    "check_root",
    "check_tool",
    "check_userns",
    "scratch_dir",
]


@contextmanager
def scratch_dir(base: Path | None, prefix: str) -> Iterator[Path]:
    """A temporary directory under ``base`` (if usable) else the system temp dir."""
    parent: Path | None = None
    if base is not None:
        try:
            base.mkdir(parents=True, exist_ok=True)
            parent = base
        except OSError:
            parent = None
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- overlayfs ------------------------------------------------------------------------


def _fs_type(path: Path) -> str | None:
    """Filesystem type of the mount that holds ``path`` (from /proc/self/mountinfo)."""
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mnt = fields[4].replace("\\040", " ")
        if target == mnt or target.startswith(mnt.rstrip("/") + "/"):
            if best is None or len(mnt) >= best[0]:
                best = (len(mnt), right.split()[0])
    return best[1] if best else None


def check_overlayfs(base: Path | None = None) -> CheckItem:
    """Mount an overlay under ``base`` (the store root), write through it, remove a lower
    file and check the copy-up and the whiteout land in the upper dir."""
    with scratch_dir(base, "probe-overlay-") as scratch:
        backing = _fs_type(scratch)
        data: dict[str, Any] = {"directory": str(scratch.parent), "backing_fs": backing}
        lower, upper, work, merged = (scratch / n for n in ("lower", "upper", "work", "merged"))
        for d in (lower, upper, work, merged):
            d.mkdir()
        (lower / "old").write_text("lower")
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        if in_user_namespace():
            options += ",userxattr"  # trusted.* xattrs are off limits there
        try:
            mount("overlay", str(merged), "overlay", 0, options)
        except OSError as exc:
            hint = "run as root on a kernel with the overlay module (modprobe overlay)"
            if os.geteuid() != 0:
                hint = "a user who is not root mounts in a user namespace: see the rootless item"
            if backing == "overlay":
                hint = "the store root is itself on overlayfs; put --root on ext4 or xfs"
            return CheckItem(
                "overlayfs", False, f"cannot mount overlay: {exc.strerror}", hint, data
            )
        try:
            (merged / "new").write_text("upper")
            (merged / "old").unlink()
            copied = (upper / "new").read_text() == "upper"
            whiteout = upper / "old"
            st = whiteout.lstat() if whiteout.exists() or whiteout.is_symlink() else None
            is_whiteout = st is not None and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
            lower_intact = (lower / "old").read_text() == "lower"
        finally:
            try:
                umount(str(merged))
            except OSError:
                umount(str(merged), MNT_DETACH)
    data.update({"copy_up": copied, "whiteouts": is_whiteout, "lower_untouched": lower_intact})
    if copied and is_whiteout and lower_intact:
        return CheckItem(
            "overlayfs",
            True,
            f"native overlay mounts work (in {data['directory']}, on {backing})",
            None,
            data,
        )
    return CheckItem(
        "overlayfs",
        False,
        "overlay mounted but behaved unexpectedly",
        "report this machine's kernel version",
        data,
    )


# --- user namespaces ------------------------------------------------------------------


def check_userns() -> CheckItem:
    """Enter a new user namespace mapped to root and read back the uid."""
    data: dict[str, Any] = {}
    try:
        data["max_user_namespaces"] = int(
            Path("/proc/sys/user/max_user_namespaces").read_text().strip()
        )
    except (OSError, ValueError):
        data["max_user_namespaces"] = None
    data["newuidmap"] = shutil.which("newuidmap")
    unshare = shutil.which("unshare")
    if unshare is None:
        return CheckItem(
            "userns", False, "cannot probe: no 'unshare' binary", "apt-get install util-linux", data
        )
    proc = subprocess.run(
        [unshare, "--user", "--map-root-user", "id", "-u"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode == 0 and proc.stdout.strip() == "0":
        return CheckItem("userns", True, "user namespaces can be created", None, data)
    reason = (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"
    return CheckItem(
        "userns",
        False,
        f"cannot create a user namespace: {reason}",
        "set user.max_user_namespaces above 0 (sysctl)",
        data,
    )


# --- cgroups --------------------------------------------------------------------------


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) for every mount of this process."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 1:
            continue
        out.append((fields[4], rfields[0], rfields[2] if len(rfields) > 2 else ""))
    return out


def check_cgroups() -> CheckItem:
    """Whether cgroups are v1, v2 or hybrid, and which controllers each side has."""
    mounts = _mounts()
    v2_mounts = [m for m, t, _ in mounts if t == "cgroup2"]
    v1_mounts = [(m, opts) for m, t, opts in mounts if t == "cgroup"]
    data: dict[str, Any] = {"v2_mounts": v2_mounts, "v1_mounts": [m for m, _ in v1_mounts]}
    top = next((t for m, t, _ in mounts if m == "/sys/fs/cgroup"), None)
    if top == "cgroup2":
        mode = "v2"
    elif v1_mounts and v2_mounts:
        mode = "hybrid"
    elif v1_mounts:
        mode = "v1"
    else:
        return CheckItem("cgroups", False, "no cgroup filesystem is mounted", None, data)
    data["mode"] = mode
    v2_controllers: list[str] = []
    if v2_mounts:
        try:
            v2_controllers = (Path(v2_mounts[0]) / "cgroup.controllers").read_text().split()
        except OSError:
            v2_controllers = []
    data["v2_controllers"] = v2_controllers
    v1_controllers: list[str] = []
    try:
        for line in Path("/proc/cgroups").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 4 and parts[3] == "1" and mode != "v2":
                if any(parts[0] in opts.split(",") for _, opts in v1_mounts):
                    v1_controllers.append(parts[0])
    except OSError:
        pass
    data["v1_controllers"] = v1_controllers
    summary = {
        "v2": "unified (cgroup v2)",
        "v1": "legacy (cgroup v1)",
        "hybrid": "hybrid (v1 controllers + cgroup2 at " + ", ".join(v2_mounts) + ")",
    }[mode]
    hint = None
    if mode == "hybrid":
        hint = "crun refuses hybrid cgroups; runc works"
    return CheckItem("cgroups", True, summary, hint, data)


# --- binfmt_misc ----------------------------------------------------------------------


def check_binfmt(directory: Path = BINFMT_DIR) -> CheckItem:
    """Which foreign architectures the kernel hands to qemu-user (for 5.1 cross builds)."""
    registered = binfmt_handlers(directory)
    if registered is None:
        return CheckItem(
            "binfmt",
            False,
            "binfmt_misc is not mounted: foreign-architecture RUN steps cannot run",
            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable",
            {"mounted": False, "handlers": []},
        )
    handlers: list[dict[str, Any]] = []
    for h in registered:
        if not h.name.startswith("qemu-"):
            continue
        info: dict[str, Any] = {"name": h.name, "enabled": h.enabled}
        if h.interpreter:
            info["interpreter"] = h.interpreter
        if h.flags:
            info["flags"] = h.flags
        handlers.append(info)
    enabled = [h["name"].removeprefix("qemu-") for h in handlers if h["enabled"]]
    data = {"mounted": True, "handlers": handlers, "architectures": enabled}
    if not enabled:
        return CheckItem(
            "binfmt",
            False,
            "binfmt_misc is mounted but has no enabled qemu handler",
            "apt-get install qemu-user-static binfmt-support && update-binfmts --enable",
            data,
        )
    shown = ", ".join(enabled[:8]) + (f" and {len(enabled) - 8} more" if len(enabled) > 8 else "")
    return CheckItem("binfmt", True, f"qemu-user handlers for {shown}", None, data)


# --- peer tools and disk --------------------------------------------------------------


def check_tool(name: str) -> CheckItem:
    """Whether ``name`` is on PATH, and its version."""
    path = shutil.which(name)
    if path is None:
        return CheckItem(
            f"tool.{name}", False, "not installed", f"apt-get install {name}", {"path": None}
        )
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        version = (proc.stdout or proc.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return CheckItem(
            f"tool.{name}", False, f"installed but '--version' failed: {exc}", None, {"path": path}
        )
    return CheckItem(f"tool.{name}", True, version, None, {"path": path, "version": version})


def check_root(root: Path) -> CheckItem:
    """The store root exists (or can be created) and is a writable directory."""
    data: dict[str, Any] = {"path": str(root)}
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return CheckItem(
            "root",
            False,
            f"store root {root} is not a writable directory: {exc.strerror or exc}",
            "pass --root DIR (or set IMAGEFORGE_ROOT) to a directory you can write",
            data,
        )
    data["backing_fs"] = _fs_type(root)
    return CheckItem("root", True, f"{root} is writable (on {data['backing_fs']})", None, data)


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_disk(root: Path, *, minimum_free: int = 2 * 1024**3) -> CheckItem:
    """Free space on the filesystem that holds (or will hold) the store root."""
    where = _existing_ancestor(root)
    usage = shutil.disk_usage(where)
    data = {"path": str(where), "total": usage.total, "free": usage.free}
    gib = usage.free / 1024**3
    if usage.free < minimum_free:
        return CheckItem(
            "disk",
            False,
            f"only {gib:.1f} GiB free under {where}",
            "free some space or point --root at a larger filesystem",
            data,
        )
    return CheckItem("disk", True, f"{gib:.1f} GiB free under {where}", None, data)
