"""mount(2) and umount2(2) through libc, with errno turned into a readable error."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["MNT_DETACH", "mount", "umount"]

MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    """Mount or raise OSError with the kernel's errno."""
    rc = _libc.mount(
        source.encode(), target.encode(), fstype.encode(), flags, data.encode() or None
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def umount(target: str, flags: int = 0) -> None:
    """Unmount or raise OSError with the kernel's errno."""
    if _libc.umount2(target.encode(), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")
