"""The Rust cataloger over an ELF carrying a cargo-auditable ``.dep-v0`` section
(a C program given the section with objcopy, as cargo-auditable's linker step does) and
over Cargo.lock."""

from __future__ import annotations

import json
import subprocess
import zlib
from pathlib import Path
from typing import Any

from imageforge.sbom import FileInfo
from imageforge.sbom.catalogers import ALL_CATALOGERS, RustCataloger
from tests.conftest import need_binary

from .conftest import run, write

AUDIT = {
    "packages": [
        {
            "name": "app",
            "version": "0.1.0",
            "source": "local",
            "dependencies": [1, 2],
            "root": True,
        },
        {"name": "serde", "version": "1.0.188", "source": "crates.io", "dependencies": [3]},
        {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
        {"name": "serde_derive", "version": "1.0.188", "source": "crates.io"},
    ]
}


def _elf_with_section(tmp_path: Path, out: Path, section: bytes | None) -> Path:
    source = tmp_path / "main.c"
    source.write_text("char pad[20000] = {1};\nint main(void) { return pad[0] - 1; }\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([need_binary("gcc"), "-o", str(out), str(source)], check=True)
    if section is not None:
        blob = tmp_path / f"{out.name}.dep"
        blob.write_bytes(section)
        subprocess.run(
            [need_binary("objcopy"), "--add-section", f".dep-v0={blob}", str(out)], check=True
        )
    return out


def _compressed(doc: Any) -> bytes:
    return zlib.compress(json.dumps(doc).encode())


def test_cargo_auditable_binary(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _elf_with_section(tmp_path, root / "usr/bin/app", _compressed(AUDIT))

    packages, warnings = run(RustCataloger(), root)

    assert warnings == []
    by_name = {p.name: p for p in packages}
    assert set(by_name) == {"app", "serde", "serde_derive"}  # cc is build-only
    serde = by_name["serde"]
    assert (serde.version, serde.type, serde.purl) == (
        "1.0.188",
        "rust-crate",
        "pkg:cargo/serde@1.0.188",
    )
    assert serde.depends_on == ("serde_derive",)
    assert serde.metadata["source"] == "crates.io"
    assert by_name["app"].depends_on == ("serde",)  # the build dependency edge is dropped
    assert serde.evidence[0].path == "usr/bin/app"


def test_damaged_sections_warn_and_plain_binaries_are_silent(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _elf_with_section(tmp_path, root / "bin/plain", None)
    _elf_with_section(tmp_path, root / "bin/garbage", b"not zlib at all")
    _elf_with_section(tmp_path, root / "bin/truncated", _compressed(AUDIT)[:-10])
    _elf_with_section(tmp_path, root / "bin/notjson", zlib.compress(b"{oops"))
    bomb = zlib.compress(b'{"packages": [' + b" " * (40 * 1024 * 1024) + b"]}", 9)
    _elf_with_section(tmp_path, root / "bin/bomb", bomb)
    _elf_with_section(tmp_path, root / "bin/good", _compressed(AUDIT))

    packages, warnings = run(RustCataloger(), root)

    assert {p.evidence[0].path for p in packages} == {"bin/good"}
    assert sorted(path for path, _ in warnings) == [
        "bin/bomb",
        "bin/garbage",
        "bin/notjson",
        "bin/truncated",
    ]


def test_cargo_lock(tmp_path: Path) -> None:
    write(
        tmp_path,
        "src/app/Cargo.lock",
        "version = 3\n\n"
        '[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [\n "itoa",\n'
        ' "serde 1.0.188 (registry+https://github.com/rust-lang/crates.io-index)",\n]\n\n'
        '[[package]]\nname = "itoa"\nversion = "1.0.9"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
        '[[package]]\nname = "serde"\nversion = "1.0.188"\n',
    )
    write(tmp_path, "src/bad/Cargo.lock", "[[package]\n")

    packages, warnings = run(RustCataloger(), tmp_path)

    assert [path for path, _ in warnings] == ["src/bad/Cargo.lock"]
    assert sorted((p.name, p.version) for p in packages) == [
        ("app", "0.1.0"),
        ("itoa", "1.0.9"),
        ("serde", "1.0.188"),
    ]
    app = next(p for p in packages if p.name == "app")
    assert app.depends_on == ("itoa", "serde")


def test_wants() -> None:
    cataloger = RustCataloger()
    assert cataloger.wants(FileInfo("usr/bin/x", "file", 0o755, 100_000))
    assert cataloger.wants(FileInfo("src/Cargo.lock", "file", 0o644, 10))
    assert not cataloger.wants(FileInfo("usr/lib/x.so", "file", 0o644, 100_000))
    assert any(isinstance(c, RustCataloger) for c in ALL_CATALOGERS)
