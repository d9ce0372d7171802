"""Find a statically linked busybox on the host: the smallest rootfs a container can run.

Used to probe runtimes (``system check``) and, later, to bootstrap busybox base images.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

__all__ = ["find_static_busybox", "is_static_elf"]

_BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox")

_PT_INTERP = 3


def is_static_elf(path: Path) -> bool:
    """True if ``path`` is an ELF executable with no program interpreter (static)."""
    try:
        with path.open("rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return False
            is64 = ident[4] == 2
            endian = "<" if ident[5] == 1 else ">"
            if is64:
                header = f.read(48)
                if len(header) < 48:
                    return False
                phoff = struct.unpack_from(endian + "Q", header, 16)[0]
                phentsize, phnum = struct.unpack_from(endian + "HH", header, 38)
            else:
                header = f.read(36)
                if len(header) < 36:
                    return False
                phoff = struct.unpack_from(endian + "I", header, 12)[0]
                phentsize, phnum = struct.unpack_from(endian + "HH", header, 26)
            for i in range(phnum):
                f.seek(phoff + i * phentsize)
                raw = f.read(4)
                if len(raw) < 4:
                    return False
                if struct.unpack(endian + "I", raw)[0] == _PT_INTERP:
                    return False
            return True
    except OSError:
        return False


def find_static_busybox() -> Path | None:
    """A statically linked busybox on this host (Debian: busybox-static), if any."""
    candidates = [Path(p) for p in _BUSYBOX_CANDIDATES]
    found = shutil.which("busybox")
    if found:
        candidates.insert(0, Path(found))
    for cand in candidates:
        if cand.is_file() and is_static_elf(cand.resolve()):
            return cand.resolve()
    return None
