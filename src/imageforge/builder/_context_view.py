"""What ``RUN --mount=type=bind`` of the build context shows: the context as
``.dockerignore`` leaves it, ignored paths absent.

When nothing below the mounted directory is ignored it is bind-mounted as it is. Otherwise
the view is a read-only overlay mount: the context directory as the lower layer and, above
it, a small layer holding one overlay whiteout (a 0:0 character device) for each ignored
path, so those paths do not exist in the view while nothing of the context is copied --
the cost is one entry per ignored path (an ignored ``node_modules`` is one whiteout, not
its files), not one per kept file, as a hardlink farm or a filtered copy would be. The
directories that hold whiteouts get the context's own modes, owners and times, so the view
looks like the context.

Symlinks inside the view stay symlinks: the kernel resolves them inside the container's
root, never on the host. The source directory itself was resolved inside the context
before it gets here (see :mod:`._incontext`). A device node in the context is inert in the
mount (``nodev``), and a writable bind's copy never reads one: devices and fifos are made
again as nodes, only regular files are read.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import ExitStack
from pathlib import Path

from imageforge.dockerfile import DockerIgnore
from imageforge.errors import Unavailable
from imageforge.runtime import MNT_DETACH, mount, umount

__all__ = ["BIND_OPTIONS", "context_view", "ignored_below", "writable_copy"]

# A bind of the context or of a stage never gives access to a device through a node it
# holds (a context unpacked as root can hold ``mknod sda b 8 0``).
BIND_OPTIONS = ("rbind", "nodev")


def ignored_below(directory: Path, real: str, ignore: DockerIgnore) -> list[str]:
    """The topmost paths below ``directory`` (which is ``real`` in the context, ``.`` for
    the root) that ``ignore`` leaves out, relative to ``directory``; a directory that is
    ignored but may keep something below (an exception pattern) is entered instead, and
    hidden whole when nothing in it is kept."""
    if not ignore.patterns:
        return []
    prefix = "" if real == "." else real + "/"
    hidden: list[str] = []

    def walk(host: str, rel: str) -> bool:
        """Hide what is ignored below ``host``; whether anything there is kept."""
        kept = False
        for name in sorted(os.listdir(host)):
            child = f"{host}/{name}"
            child_rel = f"{rel}/{name}" if rel else name
            ignored = ignore.is_ignored(prefix + child_rel)
            is_dir = stat.S_ISDIR(os.lstat(child).st_mode)
            if is_dir and (not ignored or ignore.may_reinclude_below(prefix + child_rel)):
                mark = len(hidden)
                if walk(child, child_rel) or not ignored:
                    kept = True
                else:  # nothing below it is kept: hide the directory, not each entry
                    del hidden[mark:]
                    hidden.append(child_rel)
            elif ignored:
                hidden.append(child_rel)
            else:
                kept = True
        return kept

    walk(str(directory), "")
    return hidden


def _same_dir(source: Path, made: Path) -> None:
    st = os.lstat(source)
    os.chown(made, st.st_uid, st.st_gid)
    os.chmod(made, stat.S_IMODE(st.st_mode))
    os.utime(made, ns=(st.st_atime_ns, st.st_mtime_ns))


def _whiteouts(layer: Path, directory: Path, hidden: list[str]) -> None:
    """One whiteout per hidden path in ``layer``, its parents made like the context's."""
    made: list[tuple[Path, Path]] = []
    for rel in hidden:
        parts = rel.split("/")
        for k in range(1, len(parts)):
            sub = "/".join(parts[:k])
            if not (layer / sub).exists():
                os.mkdir(layer / sub, 0o700)
                made.append((directory / sub, layer / sub))
        os.mknod(layer / rel, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    for source, target in reversed(made):  # children first: their times are kept
        _same_dir(source, target)
    _same_dir(directory, layer)


def _escape(path: str) -> str:
    """A path as overlayfs reads one item of a ``lowerdir=`` list."""
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def context_view(
    directory: Path,
    real: str,
    ignore: DockerIgnore,
    *,
    scratch: Path,
    stack: ExitStack,
    userxattr: bool = False,
) -> Path:
    """A directory showing ``directory`` (``real`` in the context) without what
    ``ignore`` leaves out, valid until ``stack`` closes: ``directory`` itself when nothing
    below it is ignored, else a read-only overlay mounted under ``scratch``."""
    hidden = ignored_below(directory, real, ignore)
    if not hidden:
        return directory
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="view-", dir=scratch))
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    layer, merged = work / "hide", work / "merged"
    layer.mkdir()
    merged.mkdir()
    _whiteouts(layer, directory, hidden)
    options = f"lowerdir={_escape(str(layer))}:{_escape(str(directory))}"
    if userxattr:
        options += ",userxattr"
    try:
        mount("overlay", str(merged), "overlay", 0, options)
    except OSError as exc:
        raise Unavailable(
            f"cannot mount the build context {directory} without its .dockerignore'd "
            f"paths for RUN --mount=type=bind: {exc.strerror}",
            hint="overlayfs must accept the context's filesystem as a lower layer; "
            "move the context to a local filesystem",
        ) from exc
    stack.callback(_unmount, merged)
    return merged


def _unmount(path: Path) -> None:
    try:
        umount(str(path))
    except OSError:
        umount(str(path), MNT_DETACH)


def _copy_entry(source: str, target: str) -> None:
    """One non-directory for :func:`writable_copy`: a regular file copied, a fifo or a
    device made again as a node (never opened: a device could be a disk, or never end)."""
    st = os.lstat(source)
    if stat.S_ISREG(st.st_mode):
        shutil.copy2(source, target)
        return
    if stat.S_ISFIFO(st.st_mode):
        os.mkfifo(target, stat.S_IMODE(st.st_mode))
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        try:
            os.mknod(target, st.st_mode, st.st_rdev)
        except PermissionError:  # a user namespace cannot make devices: leave it out
            return
    else:
        return  # sockets are not copied
    shutil.copystat(source, target, follow_symlinks=False)


def writable_copy(source: Path, target: Path) -> None:
    """A copy of ``source`` (a directory or a single file) for a ``rw`` bind, whose writes
    are thrown away: symlinks stay symlinks and only regular files are read."""
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=_copy_entry)
    else:
        _copy_entry(str(source), str(target))
