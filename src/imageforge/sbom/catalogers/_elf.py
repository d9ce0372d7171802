"""ELF access shared by the binary catalogers (Go build info, cargo-auditable): the
cheap "is this worth opening" test and bounded section reads, through pyelftools."""

from __future__ import annotations

from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from imageforge.sbom._files import FileInfo

__all__ = ["MIN_BINARY", "ELFError", "is_elf", "open_elf", "section_bytes", "wants_binary"]

#: Smaller executables are scripts or stubs, never a Go or Rust program.
MIN_BINARY = 16 * 1024


def wants_binary(info: FileInfo) -> bool:
    """A regular file with an exec bit, big enough to be a compiled program."""
    return info.executable and info.size >= MIN_BINARY


def is_elf(stream: BinaryIO) -> bool:
    stream.seek(0)
    magic = stream.read(4)
    stream.seek(0)
    return magic == b"\x7fELF"


def open_elf(stream: BinaryIO) -> ELFFile:
    """The ELF view of ``stream`` (raises :class:`ELFError` for a malformed one)."""
    return ELFFile(stream)


def section_bytes(elf: ELFFile, name: str, limit: int) -> bytes | None:
    """The content of section ``name``, ``None`` when absent; :class:`ValueError` when
    it claims more than ``limit`` bytes."""
    section = elf.get_section_by_name(name)
    if section is None:
        return None
    size = int(section["sh_size"])
    if size > limit:
        raise ValueError(f"section {name} is {size} bytes, over the {limit} byte limit")
    data: bytes = section.data()
    return data
