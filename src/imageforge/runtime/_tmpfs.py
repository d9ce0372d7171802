"""``--tmpfs PATH[:OPTIONS]`` as Docker takes it: a tmpfs mounted at PATH, ``noexec``,
``nosuid`` and ``nodev`` unless the options say otherwise (``exec`` undoes ``noexec``,
the last of a pair wins, as Docker merges them), with ``size=``, ``mode=``, ``uid=``,
``gid=``, ``nr_inodes=`` passed to the kernel. The one writable place a ``--read-only``
container has besides ``/dev/shm``."""

from __future__ import annotations

import posixpath
from typing import Final

from imageforge.errors import InvalidArgument
from imageforge.runtime._model import Mount

__all__ = ["parse_tmpfs"]

_FLAGS: Final = {
    "rw": "rw",
    "ro": "rw",
    "exec": "exec",
    "noexec": "exec",
    "suid": "suid",
    "nosuid": "suid",
    "dev": "dev",
    "nodev": "dev",
    "atime": "atime",
    "noatime": "atime",
    "relatime": "atime",
    "strictatime": "atime",
    "diratime": "diratime",
    "nodiratime": "diratime",
    "sync": "sync",
    "async": "sync",
}  # each flag and the group of which the last given wins
_VALUED: Final = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")


def parse_tmpfs(value: str) -> Mount:
    """The mount ``--tmpfs value`` asks for."""
    path, _, text = value.partition(":")
    if not path.startswith("/") or posixpath.normpath(path) == "/":
        raise InvalidArgument(
            f"--tmpfs {value!r}: the mount point must be an absolute path other than /",
            hint="e.g. --tmpfs /run or --tmpfs /tmp:size=64m",
        )
    chosen: dict[str, str] = {"exec": "noexec", "suid": "nosuid", "dev": "nodev"}
    for option in filter(None, text.split(",")):
        key = option.partition("=")[0]
        if option in _FLAGS:
            chosen[_FLAGS[option]] = option
        elif key in _VALUED and "=" in option:
            chosen[key] = option
        else:
            raise InvalidArgument(
                f"--tmpfs {value!r}: unknown option {option!r}",
                hint="flags: " + ", ".join(_FLAGS) + "; values: " + ", ".join(_VALUED),
            )
    return Mount(posixpath.normpath(path), "tmpfs", "tmpfs", tuple(chosen.values()))
