"""The struct-based ELF section table agrees with pyelftools on the machine's own
programs and libraries, and refuses malformed headers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from imageforge.sbom.catalogers._elf import read_section, sections


def _elf_files(limit: int) -> list[Path]:
    out = []
    for directory in (Path("/usr/bin"), Path("/usr/lib/x86_64-linux-gnu")):
        for path in sorted(directory.iterdir()):
            if path.is_file() and not path.is_symlink() and path.read_bytes()[:4] == b"\x7fELF":
                out.append(path)
            if len(out) >= limit:
                return out
    return out


def test_sections_agree_with_pyelftools() -> None:
    files = _elf_files(60)
    assert len(files) >= 30
    for path in files:
        with path.open("rb") as stream:
            ours = {name: (s.offset, s.size) for name, s in sections(stream).items()}
            stream.seek(0)
            theirs: dict[str, tuple[int, int]] = {}
            for section in ELFFile(stream).iter_sections():
                if section["sh_type"] != "SHT_NOBITS":
                    theirs.setdefault(section.name, (section["sh_offset"], section["sh_size"]))
        assert ours == theirs, path


def test_malformed_headers_are_refused() -> None:
    good = _elf_files(1)[0].read_bytes()
    with pytest.raises(ValueError):
        sections(io.BytesIO(b"\x7fELF\x09\x01" + bytes(58)))  # no such ELF class
    with pytest.raises(ValueError):
        sections(io.BytesIO(good[:200]))  # the section table is cut off
    stream = io.BytesIO(good)
    text = sections(stream)[".text"]
    with pytest.raises(ValueError):
        read_section(stream, text, text.size - 1)
