"""ELF access shared by the binary catalogers (Go build info, cargo-auditable): the
cheap "is this worth opening" test and the section table.

The section table is read here with ``struct`` (the ELF header fields, the section
headers and the section-name table: three bounded reads) rather than through
pyelftools, whose full parse of every executable of an image cost more than all the
rest of a scan; pyelftools is still used for the rare reads that need the program
headers (addresses of pre-1.18 Go build info)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from imageforge.sbom._files import FileInfo, Files

__all__ = [
    "MIN_BINARY",
    "ELFError",
    "Section",
    "binaries",
    "is_elf",
    "open_elf",
    "read_section",
    "sections",
    "wants_binary",
]

#: Smaller executables are scripts or stubs, never a Go or Rust program.
MIN_BINARY = 16 * 1024

_MAX_HEADERS = 4 * 1024 * 1024  # the section headers of one file
_MAX_NAMES = 1024 * 1024  # its section-name table
_SHT_NOBITS = 8


@dataclass(frozen=True)
class Section:
    offset: int
    size: int


def wants_binary(info: FileInfo) -> bool:
    """A regular file with an exec bit, big enough to be a compiled program."""
    return info.executable and info.size >= MIN_BINARY


def binaries(files: Files) -> list[str]:
    """The paths of ``files`` that :func:`wants_binary` selects, sorted."""
    return sorted(p for p in files.paths() if (i := files.info(p)) is not None and wants_binary(i))


def is_elf(stream: BinaryIO) -> bool:
    stream.seek(0)
    magic = stream.read(4)
    stream.seek(0)
    return magic == b"\x7fELF"


def open_elf(stream: BinaryIO) -> ELFFile:
    """The pyelftools view of ``stream`` (raises :class:`ELFError` for a malformed one)."""
    return ELFFile(stream)


def _read(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    data = stream.read(size)
    if len(data) != size:
        raise ValueError(f"ELF data at {offset:#x} runs past the end of the file")
    return data


def sections(stream: BinaryIO) -> dict[str, Section]:
    """The sections of the ELF file in ``stream`` by name (empty when it has no section
    table); :class:`ValueError` when the header or the table is malformed."""
    ident = _read(stream, 0, 16)
    if ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ValueError("not an ELF header")
    wide = ident[4] == 2
    order = "<" if ident[5] == 1 else ">"
    if wide:
        shoff = struct.unpack(order + "Q", _read(stream, 0x28, 8))[0]
        shentsize, shnum, shstrndx = struct.unpack(order + "HHH", _read(stream, 0x3A, 6))
        entry, minimum = order + "IIQQQQ", 40
    else:
        shoff = struct.unpack(order + "I", _read(stream, 0x20, 4))[0]
        shentsize, shnum, shstrndx = struct.unpack(order + "HHH", _read(stream, 0x2E, 6))
        entry, minimum = order + "IIIIII", 24
    if shoff == 0 or shnum == 0:
        return {}
    if shentsize < minimum or shnum * shentsize > _MAX_HEADERS or shstrndx >= shnum:
        raise ValueError("malformed ELF section table")
    table = _read(stream, shoff, shnum * shentsize)
    raw = [
        struct.unpack_from(entry, table, i * shentsize)  # name, type, flags, addr, off, size
        for i in range(shnum)
    ]
    _, _, _, _, names_offset, names_size = raw[shstrndx]
    if names_size > _MAX_NAMES:
        raise ValueError("ELF section-name table is too large")
    names = _read(stream, names_offset, names_size)
    out: dict[str, Section] = {}
    for name_at, kind, _, _, offset, size in raw:
        if kind == _SHT_NOBITS or name_at >= len(names):
            continue
        end = names.find(b"\0", name_at)
        name = names[name_at : end if end >= 0 else len(names)].decode(errors="replace")
        out.setdefault(name, Section(offset, size))
    return out


def read_section(stream: BinaryIO, section: Section, limit: int) -> bytes:
    """The content of ``section``; :class:`ValueError` when it claims more than
    ``limit`` bytes or runs past the end of the file."""
    if section.size > limit:
        raise ValueError(f"a section of {section.size} bytes is over the {limit} byte limit")
    return _read(stream, section.offset, section.size)
