"""Go modules compiled into binaries, read from the build info the Go linker embeds
(what ``go version -m`` prints), without a Go toolchain.

The build info is found in the ``.go.buildinfo`` ELF section, or by scanning for its
``\\xff Go buildinf:`` magic only when the section table is gone or unreadable (so the
other programs of an image are not read through). Go >= 1.18 stores the
Go version and the module text inline as varint-prefixed strings; older linkers store
two pointers to Go string headers, which are followed through the program headers.
Both layouts are small and undocumented outside the Go source (debug/buildinfo), and no
Python library reads them, so the decoding is written here.

Packages are reported as syft does: every ``dep`` (its ``=>`` replacement when the
replacement is a module), the main module (``(devel)`` unless the VCS stamp gives a
pseudo-version), and the Go standard library as ``stdlib`` at the toolchain version."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from elftools.elf.elffile import ELFFile

from imageforge.errors import ImageforgeError
from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpe, cpes, purl
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._common import guarded
from imageforge.sbom.catalogers._elf import (
    ELFError,
    Section,
    binaries,
    is_elf,
    open_elf,
    sections,
    wants_binary,
)

__all__ = ["BuildInfo", "GoCataloger", "Module", "parse_modinfo", "read_buildinfo"]

_MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_MAX_MODINFO = 4 * 1024 * 1024
_SCAN_LIMIT = 512 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sum: str = ""


@dataclass
class BuildInfo:
    """What a Go binary says about how it was built."""

    go_version: str
    path: str = ""
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """The module text (``path``/``mod``/``dep``/``=>``/``build`` lines)."""
    info = BuildInfo(go_version)
    last: str | None = None  # "mod" or "dep": what a "=>" line replaces
    for line in text.splitlines():
        word, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if word == "path":
            info.path = rest
        elif word in ("mod", "dep") and fields and fields[0]:
            module = Module(fields[0], fields[1] if len(fields) > 1 else "", _at(fields, 2))
            if word == "mod":
                info.main = module
            else:
                info.deps.append(module)
            last = word
        elif word == "=>" and fields and fields[0] and last is not None:
            replaced = Module(fields[0], fields[1] if len(fields) > 1 else "", _at(fields, 2))
            if last == "mod" and info.main is not None:
                info.main = _replace(info.main, replaced)
            elif last == "dep" and info.deps:
                info.deps[-1] = _replace(info.deps[-1], replaced)
        elif word == "build":
            key, _, value = rest.partition("=")
            info.settings[key] = value.strip('"') if value.startswith('"') else value
    return info


def _at(fields: list[str], index: int) -> str:
    return fields[index] if len(fields) > index else ""


def _replace(original: Module, replacement: Module) -> Module:
    if replacement.path.startswith((".", "/")):  # a local directory, not a module
        return Module(original.path, "(devel)")
    return replacement


# -- reading the binary --------------------------------------------------------------


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint in the build info")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def _strip_sentinels(modinfo: str) -> str:
    # cmd/go wraps the module text in two 16-byte sentinels
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        return modinfo[16:-16]
    return modinfo


def _read_at_address(elf: ELFFile, stream: BinaryIO, address: int, size: int) -> bytes:
    for offset in elf.address_offsets(address, size):
        stream.seek(offset)
        return stream.read(size)
    raise ValueError(f"address {address:#x} is in no segment of the file")


def _decode(header: bytes, stream: BinaryIO) -> BuildInfo:
    """``header`` starts at the magic and holds the rest of the build info blob."""
    if len(header) < _HEADER:
        raise ValueError("truncated build info header")
    ptr_size, flags = header[14], header[15]
    if flags & 0x2:  # Go >= 1.18: inline strings
        length, pos = _uvarint(header, _HEADER)
        version = header[pos : pos + length]
        pos += length
        length, pos = _uvarint(header, pos)
        if length > _MAX_MODINFO or pos + length > len(header):
            raise ValueError("module text is truncated or too large")
        modinfo = header[pos : pos + length]
        return parse_modinfo(
            version.decode(errors="replace"), _strip_sentinels(modinfo.decode(errors="replace"))
        )
    if ptr_size not in (4, 8):
        raise ValueError("unsupported build info layout")
    try:
        elf = open_elf(stream)  # the program headers map the pointers to file offsets
    except (ELFError, IndexError, KeyError, struct.error) as exc:
        raise ValueError(f"pointer-layout build info in an unreadable ELF: {exc}") from exc
    order: Literal["big", "little"] = "big" if flags & 0x1 else "little"

    def read_string(address: int) -> str:
        head = _read_at_address(elf, stream, address, 2 * ptr_size)
        data_ptr = int.from_bytes(head[:ptr_size], order)
        length = int.from_bytes(head[ptr_size:], order)
        if length > _MAX_MODINFO:
            raise ValueError("module text is too large")
        if length == 0:
            return ""
        return _read_at_address(elf, stream, data_ptr, length).decode(errors="replace")

    version_ptr = int.from_bytes(header[16 : 16 + ptr_size], order)
    modinfo_ptr = int.from_bytes(header[16 + ptr_size : 16 + 2 * ptr_size], order)
    return parse_modinfo(read_string(version_ptr), _strip_sentinels(read_string(modinfo_ptr)))


def _scan_for_magic(stream: BinaryIO) -> int | None:
    stream.seek(0)
    base = 0
    tail = b""
    while base < _SCAN_LIMIT:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        found = data.find(_MAGIC)
        while found >= 0:
            offset = base - len(tail) + found
            if offset % 16 == 0:  # the linker aligns the blob to 16 bytes
                return offset
            found = data.find(_MAGIC, found + 1)
        tail = data[-(len(_MAGIC) - 1) :]
        base += len(chunk)
    return None


def read_buildinfo(stream: BinaryIO) -> BuildInfo | None:
    """The build info of the Go ELF binary in ``stream``, ``None`` when it has none
    (not a Go program, or not ELF); :class:`ValueError` for a damaged one."""
    if not is_elf(stream):
        return None
    try:
        table: dict[str, Section] | None = sections(stream)
    except (ValueError, OSError, struct.error):
        table = None  # an unreadable section table: look for the magic instead
    section = table.get(".go.buildinfo") if table else None
    if section is None and table:
        return None  # a section table without the Go section: not a Go program
    if section is not None:
        stream.seek(section.offset)
    else:
        offset = _scan_for_magic(stream)
        if offset is None:
            return None
        stream.seek(offset)
    blob = stream.read(_HEADER + 2 * 10 + 256 + _MAX_MODINFO)
    if not blob.startswith(_MAGIC):
        return None
    return _decode(blob, stream)


# -- packages ------------------------------------------------------------------------


_PSEUDO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")


def _main_version(info: BuildInfo) -> str:
    version = info.main.version if info.main else ""
    if version and version != "(devel)":
        return version
    revision = info.settings.get("vcs.revision", "")
    when = _PSEUDO_TIME.match(info.settings.get("vcs.time", ""))
    if revision and when:
        return f"v0.0.0-{''.join(when.groups())}-{revision[:12]}"
    return "(devel)"


def _module_cpes(path: str, version: str) -> tuple[str, ...]:
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] in ("github.com", "gitlab.com", "bitbucket.org"):
        return cpes([parts[1]], [parts[2]], version)
    if len(parts) >= 2 and parts[0] == "golang.org" and parts[1] == "x":
        return cpes(["golang"], [parts[-1]], version)
    return cpes([parts[0].split(".")[0]], [parts[-1]], version)


def _module_purl(path: str, version: str) -> str:
    namespace, _, name = path.rpartition("/")
    return purl("golang", name, version, namespace=namespace or None)


class GoCataloger:
    """Go modules linked into ELF executables."""

    name = "go-binary"

    def wants(self, info: FileInfo) -> bool:
        return wants_binary(info)

    def catalog(self, files: Files, warn: Warn) -> Iterator[Package]:
        paths = binaries(files)
        yield from guarded(paths, lambda p: self._binary(files, p, warn), warn)

    def _binary(self, files: Files, path: str, warn: Warn) -> list[Package]:
        try:
            with files.open(path) as stream:
                info = read_buildinfo(stream)
        except (ImageforgeError, OSError) as exc:
            warn(path, f"cannot be read: {exc}")
            return []
        except ValueError as exc:
            warn(path, f"damaged Go build info: {exc}")
            return []
        if info is None:
            return []
        evidence = (files.evidence(path),)
        metadata = {
            "go_version": info.go_version,
            "main_module": info.main.path if info.main else "",
        }
        for key in ("GOOS", "GOARCH", "vcs", "vcs.revision", "vcs.time", "vcs.modified"):
            if key in info.settings:
                metadata[key] = info.settings[key]
        if info.path:
            metadata["path"] = info.path
        out: list[Package] = []
        modules = [(m.path, m.version, m.sum) for m in info.deps if m.version]
        if info.main is not None:
            modules.append((info.main.path, _main_version(info), info.main.sum))
        for module_path, version, h1 in modules:
            meta = dict(metadata)
            if h1:
                meta["h1_digest"] = h1
            out.append(
                Package(
                    name=module_path,
                    version=version,
                    type=PackageType.GO,
                    purl=_module_purl(module_path, version),
                    cpes=_module_cpes(module_path, version),
                    evidence=evidence,
                    metadata=meta,
                )
            )
        toolchain = info.go_version.removeprefix("go").split(" ", 1)[0]
        if toolchain and info.go_version.startswith("go"):
            out.append(
                Package(
                    name="stdlib",
                    version=info.go_version.split(" ", 1)[0],
                    type=PackageType.GO,
                    purl=purl("golang", "stdlib", toolchain),
                    cpes=(_stdlib_cpe(toolchain),),
                    licenses=("BSD-3-Clause",),
                    evidence=evidence,
                    metadata=metadata,
                )
            )
        return sorted(out, key=lambda p: (p.name, p.version))


def _stdlib_cpe(version: str) -> str:
    """syft's CPE for the Go standard library: ``golang:go`` with update ``-``."""
    fields = cpe("golang", "go", version).split(":")
    fields[6] = "-"
    return ":".join(fields)
