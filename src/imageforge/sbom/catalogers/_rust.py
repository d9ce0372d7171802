"""Rust crates: the dependency tree ``cargo auditable`` embeds in a binary (the
``.dep-v0`` ELF section: zlib-compressed JSON, a list of packages whose
``dependencies`` are indices into it) and ``Cargo.lock`` in source trees.

As syft does, build-time dependencies (``"kind": "build"``) are left out of a binary's
packages: they are not in the program. Decompression is bounded so a crafted section
cannot inflate without limit."""

from __future__ import annotations

import json
import struct
import tomllib
import zlib
from collections.abc import Iterator
from typing import Any

from imageforge.errors import ImageforgeError
from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._common import basename, guarded, read_text
from imageforge.sbom.catalogers._elf import (
    binaries,
    is_elf,
    read_section,
    sections,
    wants_binary,
)

__all__ = ["RustCataloger"]

_SECTION = ".dep-v0"
_MAX_COMPRESSED = 8 * 1024 * 1024
_MAX_JSON = 32 * 1024 * 1024


class RustCataloger:
    """Crates recorded by cargo-auditable in binaries, and pinned by Cargo.lock."""

    name = "rust"

    def wants(self, info: FileInfo) -> bool:
        return wants_binary(info) or (info.kind == "file" and basename(info.path) == "Cargo.lock")

    def catalog(self, files: Files, warn: Warn) -> Iterator[Package]:
        locks = [
            p
            for p in files.paths()
            if basename(p) == "Cargo.lock" and (i := files.info(p)) is not None and i.kind == "file"
        ]
        yield from guarded(binaries(files), lambda p: _binary(files, p, warn), warn)
        yield from guarded(locks, lambda p: _cargo_lock(files, p, warn), warn)


def _crate(
    name: str,
    version: str,
    path: str,
    files: Files,
    *,
    source: str = "",
    depends_on: list[str] | None = None,
) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.RUST,
        purl=purl("cargo", name, version),
        cpes=cpes([name], [name], version),
        evidence=(files.evidence(path),),
        depends_on=tuple(sorted(set(depends_on or ()))),
        metadata={"source": source} if source else {},
    )


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_JSON)
    if inflater.unconsumed_tail:
        raise ValueError(f"the dependency list inflates past {_MAX_JSON} bytes")
    if not inflater.eof:
        raise ValueError("the compressed dependency list is truncated")
    return out


def _binary(files: Files, path: str, warn: Warn) -> list[Package]:
    try:
        with files.open(path) as stream:
            if not is_elf(stream):
                return []
            try:
                found = sections(stream).get(_SECTION)
            except (ValueError, struct.error):
                return []  # not a well-formed ELF: nothing cargo-auditable wrote
            section = read_section(stream, found, _MAX_COMPRESSED) if found else None
    except (ImageforgeError, OSError) as exc:
        warn(path, f"cannot be read: {exc}")
        return []
    except ValueError as exc:
        warn(path, str(exc))
        return []
    if section is None:
        return []
    try:
        doc = json.loads(_inflate(section))
    except (zlib.error, ValueError) as exc:
        warn(path, f"damaged {_SECTION} section: {exc}")
        return []
    entries = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        warn(path, f"{_SECTION} section without a package list")
        return []
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kind") == "build":
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        deps = []
        for index in entry.get("dependencies") or []:
            if isinstance(index, int) and 0 <= index < len(entries):
                dep = entries[index]
                if isinstance(dep, dict) and dep.get("kind") != "build" and names[index]:
                    deps.append(str(names[index]))
        out.append(
            _crate(name, version, path, files, source=str(entry.get("source", "")), depends_on=deps)
        )
    return out


def _cargo_lock(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        warn(path, f"not TOML: {exc}")
        return []
    out = []
    for entry in doc.get("package", []):
        if not isinstance(entry, dict):
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        deps = [d.split(" ", 1)[0] for d in entry.get("dependencies", []) if isinstance(d, str)]
        source = str(entry.get("source", ""))
        out.append(_crate(name, version, path, files, source=source, depends_on=deps))
    return out
