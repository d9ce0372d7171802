"""Turning a fresh debootstrap tree into what Debian's official container images hold.

Three steps, each following what debuerreotype (the tool that makes the official
``debian`` images) does, written here from its documented lists:

- :func:`minimize`: the dpkg/APT settings every official image carries (no service
  starts during installs, no fsync per package, APT caches cleaned after each install,
  compressed indexes, no translations).
- :func:`clean`: logs and caches with timestamps or host details removed, APT lists and
  downloaded packages dropped, ``/dev``, ``/proc`` and ``/sys`` left empty, the host's
  ``resolv.conf`` and ``hostname`` (which debootstrap copies in) replaced, shadow
  "last changed" days clamped to the image's date.
- :func:`slimify` (``--slim``): docs, man and info pages and translations removed except
  the files the slim images keep (copyright files, ``locale.alias`` ...), and
  ``/etc/dpkg/dpkg.cfg.d/docker`` written so later installs leave them out as well.

Every path is checked to stay inside the tree: nothing here follows a symlink out of it.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Final

from imageforge.layers import resolve_in_view, root_lookup

__all__ = [
    "DPKG_SLIM_CONFIG",
    "SLIM_EXCLUDES",
    "SLIM_INCLUDES",
    "clean",
    "minimize",
    "package_epoch",
    "slimify",
]

SLIM_EXCLUDES: Final = (
    "/usr/share/doc/*",
    "/usr/share/groff/*",
    "/usr/share/info/*",
    "/usr/share/linda/*",
    "/usr/share/lintian/overrides/*",
    "/usr/share/locale/*",
    "/usr/share/man/*",
)
SLIM_INCLUDES: Final = (
    "/usr/share/doc/*/copyright",
    "/usr/share/doc/kde/HTML/C/*",
    "/usr/share/gnome/help/*/C/*",
    "/usr/share/locale/all_languages",
    "/usr/share/locale/currency/*",
    "/usr/share/locale/l10n/*",
    "/usr/share/locale/languages",
    "/usr/share/locale/locale.alias",
    "/usr/share/omf/*/*-C.emf",
)
DPKG_SLIM_CONFIG: Final = "etc/dpkg/dpkg.cfg.d/docker"

_CLEAN_CMD = (
    '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
    '/var/cache/apt/*.bin || true";'
)
_MINIMIZE: Final[dict[str, tuple[int, str]]] = {
    "usr/sbin/policy-rc.d": (
        0o755,
        "#!/bin/sh\n"
        "# Packages installed in a container build must not start services: refuse.\n"
        "exit 101\n",
    ),
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": (
        0o644,
        "# A build that loses power is rerun from scratch: skip dpkg's fsync per file.\n"
        "force-unsafe-io\n",
    ),
    "etc/apt/apt.conf.d/docker-autoremove-suggests": (
        0o644,
        "// Let 'apt-get purge --auto-remove' remove packages that are only suggested\n"
        "// by others, so build dependencies go away completely.\n"
        'Apt::AutoRemove::SuggestsImportant "false";\n',
    ),
    "etc/apt/apt.conf.d/docker-clean": (
        0o644,
        "// Each install is a layer: keep no downloaded packages or caches in it.\n"
        f"DPkg::Post-Invoke {{ {_CLEAN_CMD} }};\n"
        f"APT::Update::Post-Invoke {{ {_CLEAN_CMD} }};\n"
        'Dir::Cache::pkgcache "";\n'
        'Dir::Cache::srcpkgcache "";\n',
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": (
        0o644,
        "// Keep package lists compressed on disk: an 'apt-get update' layer stays small.\n"
        'Acquire::GzipIndexes "true";\n',
    ),
    "etc/apt/apt.conf.d/docker-no-languages": (
        0o644,
        '// Do not download translated package descriptions.\nAcquire::Languages "none";\n',
    ),
}
_REMOVE: Final = (
    "var/log/dpkg.log",
    "var/log/bootstrap.log",
    "var/log/alternatives.log",
    "var/log/apt/history.log",
    "var/log/apt/term.log",
    "var/cache/ldconfig/aux-cache",
    "run/mount/utab",
    "etc/apt/apt.conf.d/01autoremove-kernels",
)
# Directories whose contents go (subdirectories named "partial" stay, empty, as APT
# expects them).
_EMPTY: Final = ("dev", "proc", "sys", "var/lib/apt/lists", "var/cache/apt")


def _inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` if no directory on the way is a symlink (so it is inside ``root``)."""
    path = root
    parts = [p for p in rel.strip("/").split("/") if p]
    for part in parts[:-1]:
        path = path / part
        if path.is_symlink() or not path.is_dir():
            return None
    return path / parts[-1] if parts else path


def _write(root: Path, rel: str, mode: int, text: str) -> None:
    path = _inside(root, rel)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def minimize(root: Path) -> None:
    """Write the dpkg and APT settings the official images carry."""
    for rel, (mode, text) in _MINIMIZE.items():
        _write(root, rel, mode, text)


def _empty_dir(directory: Path, *, keep: bool = True) -> bool:
    """Remove what ``directory`` holds, except (with ``keep``) subdirectories named
    ``partial`` (emptied) and the directories on the way to them; True if it is empty."""
    empty = True
    for entry in os.scandir(directory):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            if keep and entry.name == "partial":
                _empty_dir(path, keep=False)
                empty = False
            elif _empty_dir(path, keep=keep):
                path.rmdir()
            else:
                empty = False
        else:
            path.unlink()
    return empty


def package_epoch(root: Path) -> int | None:
    """The newest mtime of the files under ``/usr/share/doc``: dpkg keeps the mtimes the
    packages were built with, so this is the date of the newest package (nothing a
    maintainer script writes at install time), or None if there are none."""
    newest: int | None = None
    doc = _inside(root, "usr/share/doc")
    if doc is None or not doc.is_dir():
        return None
    for dirpath, _dirs, files in os.walk(doc):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            newest = int(st.st_mtime) if newest is None else max(newest, int(st.st_mtime))
    return newest


def _clamp_shadow(path: Path, days: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    out = []
    for line in lines:
        fields = line.rstrip("\n").split(":")
        if len(fields) > 2 and fields[2].isdigit() and int(fields[2]) > days:
            fields[2] = str(days)
            line = ":".join(fields) + ("\n" if line.endswith("\n") else "")
        out.append(line)
    if out != lines:
        mode = path.stat().st_mode
        path.write_text("".join(out))
        path.chmod(mode)


def clean(root: Path, epoch: int) -> None:
    """Remove what debootstrap leaves that does not belong in an image (see module doc)."""
    for rel in _REMOVE:
        path = _inside(root, rel)
        if path is not None and (path.is_symlink() or path.is_file()):
            path.unlink()
    mount = _inside(root, "run/mount")
    if mount is not None and mount.is_dir() and not mount.is_symlink() and not any(mount.iterdir()):
        mount.rmdir()
    for rel in _EMPTY:
        path = _inside(root, rel)
        if path is not None and path.is_dir() and not path.is_symlink():
            _empty_dir(path)
    # debootstrap copies the host's; the runtime mounts the container's own over them.
    _write(root, "etc/resolv.conf", 0o644, "")
    _write(root, "etc/hostname", 0o644, "localhost\n")
    for rel in ("etc/shadow", "etc/shadow-"):
        path = _inside(root, rel)
        if path is not None and path.is_file() and not path.is_symlink():
            _clamp_shadow(path, epoch // 86400)


def _match(path: str, patterns: tuple[str, ...]) -> bool:
    # dpkg matches path-include/path-exclude with fnmatch(3) without FNM_PATHNAME: a
    # "*" matches "/" too, as Python's fnmatchcase does.
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _slim_one(root: Path, base: str) -> None:
    lookup = root_lookup(root)
    top = _inside(root, base)
    if top is None or not top.is_dir() or top.is_symlink():
        return
    # First every file that no include keeps (directories and symlinks stay for now) ...
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            full = Path(dirpath) / name
            if full.is_symlink():
                continue
            if not _match("/" + str(full.relative_to(root)), SLIM_INCLUDES):
                full.unlink()
    # ... then dangling symlinks and empty directories, until there are none (removing
    # one can leave its parent empty or another link dangling).
    changed = True
    while changed:
        changed = False
        for dirpath, dirs, files in os.walk(top, topdown=False):
            for name in [*files, *dirs]:
                full = Path(dirpath) / name
                if full.is_symlink():
                    # dangling as the image will see it: resolved with the tree as "/"
                    if resolve_in_view(lookup, str(full.relative_to(root))) is None:
                        full.unlink()
                        changed = True
                elif full.is_dir() and not any(full.iterdir()):
                    full.rmdir()
                    changed = True


def slimify(root: Path) -> None:
    """Remove what the slim images remove and make dpkg leave it out from now on."""
    for pattern in SLIM_EXCLUDES:
        _slim_one(root, pattern.rsplit("/", 1)[0])
    lines = [
        '# This is the "slim" variant of the Debian base image: documentation, manual',
        "# pages and translations are left out, and this keeps them out of later installs.",
        "",
        *(f"path-exclude {p}" for p in SLIM_EXCLUDES),
        "",
        *(f"path-include {p}" for p in SLIM_INCLUDES),
    ]
    _write(root, DPKG_SLIM_CONFIG, 0o644, "\n".join(lines) + "\n")
