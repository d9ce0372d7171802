"""Foreign binaries through binfmt_misc: which handlers the kernel has registered
(``/proc/sys/fs/binfmt_misc``), and whether a RUN step for another architecture can run
here.

A handler is matched the way the kernel matches it: its magic and mask against the ELF
header of an executable for that architecture, so a handler registered under any name
(Debian's ``qemu-user-static``, ``tonistiigi/binfmt``) counts. It must carry the ``F``
flag (the interpreter opened when registered): without it the kernel looks for the
interpreter inside the container's root filesystem, where it is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import Unsupported
from imageforge.oci import Platform, host_platform

__all__ = [
    "BINFMT_DIR",
    "BinfmtHandler",
    "binfmt_handlers",
    "check_foreign_exec",
    "elf_header",
    "needs_emulation",
]

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")

# GOARCH -> (ELF class: 1 = 32-bit, 2 = 64-bit; data: 1 = little-, 2 = big-endian;
# e_machine; qemu's name for it, which the hint names)
_ELF = {
    "amd64": (2, 1, 62, "x86_64"),
    "386": (1, 1, 3, "i386"),
    "arm64": (2, 1, 183, "aarch64"),
    "arm": (1, 1, 40, "arm"),
    "ppc64le": (2, 1, 21, "ppc64le"),
    "ppc64": (2, 2, 21, "ppc64"),
    "s390x": (2, 2, 22, "s390x"),
    "riscv64": (2, 1, 243, "riscv64"),
    "mips64le": (2, 1, 8, "mips64el"),
    "mips64": (2, 2, 8, "mips64"),
    "mipsle": (1, 1, 8, "mipsel"),
    "mips": (1, 2, 8, "mips"),
    "loong64": (2, 1, 258, "loongarch64"),
}

# What a host runs without emulation beside its own architecture.
_NATIVE_TOO = {"amd64": {"386"}}

_FIX = "apt-get install qemu-user-static binfmt-support (Debian), then update-binfmts --enable"


def elf_header(architecture: str) -> bytes | None:
    """The first 20 bytes of an ELF executable for ``architecture`` (GOARCH), or None
    for one this table does not know."""
    entry = _ELF.get(architecture)
    if entry is None:
        return None
    elf_class, data, machine, _ = entry
    ident = b"\x7fELF" + bytes([elf_class, data, 1]) + bytes(9)
    if data == 1:
        return ident + (2).to_bytes(2, "little") + machine.to_bytes(2, "little")
    return ident + (2).to_bytes(2, "big") + machine.to_bytes(2, "big")


@dataclass(frozen=True)
class BinfmtHandler:
    """One registered handler: its name, whether enabled, its interpreter, flags, and
    the offset, magic and mask the kernel matches a file's first bytes against."""

    name: str
    enabled: bool
    interpreter: str = ""
    flags: str = ""
    offset: int = 0
    magic: bytes = b""
    mask: bytes = b""

    def matches(self, header: bytes) -> bool:
        """True if the kernel would hand a file starting with ``header`` to this."""
        if not self.magic:
            return False  # an extension handler (``E``), not a magic one
        got = header[self.offset : self.offset + len(self.magic)]
        if len(got) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((g & m) == (w & m) for g, m, w in zip(got, mask, self.magic, strict=False))


def _handler(entry: Path) -> BinfmtHandler | None:
    try:
        lines = entry.read_text().splitlines()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    try:
        return BinfmtHandler(
            name=entry.name,
            enabled=bool(lines) and lines[0] == "enabled",
            interpreter=fields.get("interpreter", ""),
            flags=fields.get("flags", ""),
            offset=int(fields.get("offset", "0")),
            magic=bytes.fromhex(fields.get("magic", "")),
            mask=bytes.fromhex(fields.get("mask", "")),
        )
    except ValueError:
        return None


def binfmt_handlers(directory: Path = BINFMT_DIR) -> list[BinfmtHandler] | None:
    """Every handler registered, by name; None when binfmt_misc is not mounted."""
    if not (directory / "status").exists():
        return None
    found = (
        _handler(entry)
        for entry in sorted(directory.iterdir())
        if entry.name not in ("register", "status")
    )
    return [h for h in found if h is not None]


def needs_emulation(platform: Platform, host: Platform | None = None) -> bool:
    """True if binaries for ``platform`` do not run natively on ``host`` (this one)."""
    here = (host or host_platform()).normalized()
    arch = platform.normalized().architecture
    return arch != here.architecture and arch not in _NATIVE_TOO.get(here.architecture, set())


def check_foreign_exec(
    platform: Platform, *, directory: Path = BINFMT_DIR, host: Platform | None = None
) -> BinfmtHandler | None:
    """The handler that runs ``platform``'s binaries here (None: they run natively).
    Raises Unsupported, with the fix, when no enabled handler with the ``F`` flag is
    registered for it."""
    if not needs_emulation(platform, host):
        return None
    arch = platform.normalized().architecture
    header = elf_header(arch)
    if platform.os != "linux" or header is None:
        raise Unsupported(f"RUN steps for {platform} cannot run here: no emulator is known for it")
    qemu = _ELF[arch][3]
    handlers = binfmt_handlers(directory)
    if handlers is None:
        raise Unsupported(
            f"exec format error: binfmt_misc is not mounted, so {platform} binaries cannot run",
            hint=f"mount -t binfmt_misc binfmt_misc {directory}; {_FIX}",
        )
    candidates = [h for h in handlers if h.matches(header)]
    for handler in candidates:
        if handler.enabled and "F" in handler.flags:
            return handler
    if candidates:
        h = candidates[0]
        state = "is disabled" if not h.enabled else "lacks the F (fix-binary) flag"
        raise Unsupported(
            f"exec format error: the binfmt_misc handler {h.name} for {platform} {state}, "
            "so it cannot run binaries inside a container",
            hint=f"register qemu-{qemu} with the F flag: {_FIX}",
        )
    raise Unsupported(
        f"exec format error: no qemu-{qemu} handler for {platform} is registered in {directory}",
        hint=f"install qemu-user-static and binfmt-support: {_FIX}",
    )
