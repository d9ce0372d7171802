"""A fresh network namespace held by a file descriptor, for the runtime and slirp4netns
to join by path.

How: a short-lived thread calls unshare(CLONE_NEWNET) (a network namespace belongs to
one thread, so the rest of the process stays where it is), opens
``/proc/thread-self/ns/net`` and ends; the descriptor keeps the namespace alive, and
``/proc/<pid>/fd/<n>`` names it for other processes. Nothing is mounted, so nothing can
be left behind: when the descriptor is closed, or this process dies, the kernel frees
the namespace. In rootless mode this process is root of its user namespace, which then
owns the new network namespace (so the runtime may mount a sysfs for it).

Hand-written: Python 3.11 has no ``os.unshare``; ctypes reaches libc's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

from imageforge.errors import Unavailable

__all__ = ["NetworkNamespace"]

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]


class NetworkNamespace:
    """A new, empty network namespace (only a loopback device, down) until ``close``."""

    def __init__(self) -> None:
        result: list[int | OSError] = []

        def make() -> None:
            if _libc.unshare(CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                result.append(OSError(err, os.strerror(err)))
                return
            try:
                result.append(os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC))
            except OSError as exc:
                result.append(exc)

        thread = threading.Thread(target=make, name="imageforge-netns")
        thread.start()
        thread.join()
        outcome = result[0] if result else OSError(0, "the namespace thread did not report")
        if isinstance(outcome, OSError):
            raise Unavailable(
                f"cannot create a network namespace: {outcome.strerror}",
                hint="run 'imageforge system check'; --network host or none need no namespace",
            )
        self.fd: int | None = outcome
        self.path = f"/proc/{os.getpid()}/fd/{outcome}"

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> NetworkNamespace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
