"""The Go cataloger over real Go binaries (built offline from Debian's vendored module
sources) checked against ``go version -m``, the pre-1.18 pointer layout, and damaged
input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from imageforge.sbom import FileInfo
from imageforge.sbom.catalogers import ALL_CATALOGERS, GoCataloger
from tests.conftest import need_binary

from .conftest import run, write

GO_MOD = """\
module example.com/hello

go 1.19

require (
\tgithub.com/opencontainers/go-digest v1.0.0
\tgithub.com/pkg/errors v0.9.1
\texample.com/local v0.1.0
)

replace example.com/local v0.1.0 => ./local
"""

MODULES_TXT = """\
# example.com/local v0.1.0 => ./local
## explicit; go 1.19
example.com/local
# github.com/opencontainers/go-digest v1.0.0
## explicit; go 1.13
github.com/opencontainers/go-digest
# github.com/pkg/errors v0.9.1
## explicit
github.com/pkg/errors
"""

MAIN_GO = """\
package main

import (
\t"fmt"

\t"example.com/local"
\t"github.com/opencontainers/go-digest"
\t"github.com/pkg/errors"
)

func main() {
\tfmt.Println(errors.New("x"), digest.FromString("a"), local.Hi())
}
"""

GOCODE = Path("/usr/share/gocode/src/github.com")
# Debian's vendored sources of two modules (their -dev packages; tests/test_setup.py
# checks that 'make setup' installs what owns these paths).
GO_MODULES = (
    Path("/usr/share/gocode/src/github.com/pkg/errors"),
    Path("/usr/share/gocode/src/github.com/opencontainers/go-digest"),
)


@pytest.fixture(scope="session")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Go program with two vendored modules and a local replacement, built with
    Debian's Go offline (``-mod=vendor``, no proxy)."""
    go = need_binary("go")
    src = tmp_path_factory.mktemp("gosrc")
    write(src, "go.mod", GO_MOD)
    write(src, "main.go", MAIN_GO)
    write(src, "local/go.mod", "module example.com/local\n\ngo 1.19\n")
    write(
        src,
        "vendor/example.com/local/local.go",
        'package local\n\nfunc Hi() string { return "hi" }\n',
    )
    write(src, "vendor/modules.txt", MODULES_TXT)
    for path in GO_MODULES:
        if not path.is_dir():
            pytest.fail(f"{path} is missing; 'make setup' installs it")
        module = path.relative_to(GOCODE)
        shutil.copytree(path, src / "vendor/github.com" / module, symlinks=False)
    out = tmp_path_factory.mktemp("gobin")
    env = dict(
        os.environ,
        GOFLAGS="-mod=vendor",
        GOPROXY="off",
        GOCACHE=str(src / ".cache"),
        GOPATH=str(src / ".gopath"),
    )
    subprocess.run(
        [go, "build", "-o", str(out / "usr/local/bin/hello"), "."],
        cwd=src,
        env=env,
        check=True,
        capture_output=True,
    )
    return out


def test_go_binary_matches_go_version_m(go_binary: Path) -> None:
    binary = go_binary / "usr/local/bin/hello"
    listed = subprocess.run(
        [need_binary("go"), "version", "-m", str(binary)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = set(re.findall(r"^\tdep\t(\S+)\t(v\S+)", listed, re.MULTILINE))
    toolchain = listed.split(": ", 1)[1].split()[0]

    packages, warnings = run(GoCataloger(), go_binary)

    assert warnings == []
    found = {(p.name, p.version) for p in packages}
    assert expected == {
        ("example.com/local", "v0.1.0"),
        ("github.com/opencontainers/go-digest", "v1.0.0"),
        ("github.com/pkg/errors", "v0.9.1"),
    }
    # every dependency go lists is found; a local replacement has no version of its own
    assert expected - {("example.com/local", "v0.1.0")} <= found
    assert ("example.com/local", "(devel)") in found
    assert ("example.com/hello", "(devel)") in found
    assert ("stdlib", toolchain) in found
    errors = next(p for p in packages if p.name == "github.com/pkg/errors")
    assert errors.type == "go-module"
    assert errors.purl == "pkg:golang/github.com/pkg/errors@v0.9.1"
    assert errors.metadata["GOOS"] == "linux" and errors.metadata["GOARCH"]
    assert errors.evidence[0].path == "usr/local/bin/hello"
    assert "cpe:2.3:a:pkg:errors:v0.9.1:*:*:*:*:*:*:*" in errors.cpes
    stdlib = next(p for p in packages if p.name == "stdlib")
    assert stdlib.purl == f"pkg:golang/stdlib@{toolchain.removeprefix('go')}"


OLD_LAYOUT_C = r"""
struct gostring { const char *p; long n; };
static const char ver[] = "go1.16.15";
static const char mod[] = "0123456789abcdef"
    "path\texample.com/old\n"
    "mod\texample.com/old\tv1.0.0\th1:abc=\n"
    "dep\tgolang.org/x/text\tv0.3.7\th1:def=\n"
    "0123456789abcdef";
struct gostring vs = {ver, sizeof(ver) - 1};
struct gostring ms = {mod, sizeof(mod) - 1};
struct hdr {
    char magic[14]; unsigned char ptrsize; unsigned char flags;
    struct gostring *v; struct gostring *m; char pad[16];
};
__attribute__((section(".go.buildinfo"), used, aligned(16)))
struct hdr bi = {"\xff Go buildinf:", 8, 0, &vs, &ms, {0}};
char padding[20000] = {1};
int main(void) { return padding[0] - 1; }
"""


def _cc(tmp_path: Path, source: str, out: Path, *flags: str) -> Path:
    c = tmp_path / "prog.c"
    c.write_text(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([need_binary("gcc"), *flags, "-o", str(out), str(c)], check=True)
    return out


def test_pre_1_18_pointer_layout(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _cc(tmp_path, OLD_LAYOUT_C, root / "app/old", "-no-pie", "-O0")

    packages, warnings = run(GoCataloger(), root)

    assert warnings == []
    assert sorted((p.name, p.version) for p in packages) == [
        ("example.com/old", "v1.0.0"),
        ("golang.org/x/text", "v0.3.7"),
        ("stdlib", "go1.16.15"),
    ]
    text = next(p for p in packages if p.name == "golang.org/x/text")
    assert text.metadata["h1_digest"] == "h1:def="


def test_damaged_and_foreign_binaries(tmp_path: Path, go_binary: Path) -> None:
    root = tmp_path / "root"
    good = go_binary / "usr/local/bin/hello"
    data = bytearray(good.read_bytes())
    magic = data.find(b"\xff Go buildinf:")
    assert magic > 0
    data[magic + 32] = 0xFF  # the version length runs past the end: no valid varint
    data[magic + 33 : magic + 64] = b"\xff" * 31
    write(root, "bin/damaged", bytes(data), 0o755)
    write(root, "bin/truncated", bytes(good.read_bytes()[: magic + 20]), 0o755)
    write(root, "bin/script", "#!/bin/sh\n" + "#" * 20000 + "\n", 0o755)
    write(root, "bin/notelf", b"\x7fELF" + b"\0" * 20000, 0o755)
    shutil.copy(good, root / "bin/not-executable")
    os.chmod(root / "bin/not-executable", 0o644)
    _cc(tmp_path, "int main(void){return 0;}\nchar pad[20000]={1};\n", root / "bin/c-program")
    shutil.copy(good, root / "bin/good")

    packages, warnings = run(GoCataloger(), root)

    assert {p.evidence[0].path for p in packages} == {"bin/good"}
    assert sorted(path for path, _ in warnings) == ["bin/damaged", "bin/truncated"]


def test_binary_without_a_section_table_is_scanned(tmp_path: Path, go_binary: Path) -> None:
    data = bytearray((go_binary / "usr/local/bin/hello").read_bytes())
    assert data[4] == 2  # ELFCLASS64: e_shoff at 0x28, e_shnum at 0x3C
    data[0x28:0x30] = bytes(8)
    data[0x3C:0x3E] = bytes(2)
    write(tmp_path, "bin/stripped", bytes(data), 0o755)

    packages, warnings = run(GoCataloger(), tmp_path)

    assert warnings == []
    assert ("github.com/pkg/errors", "v0.9.1") in {(p.name, p.version) for p in packages}


def test_wants_executables_only() -> None:
    cataloger = GoCataloger()
    assert cataloger.wants(FileInfo("usr/bin/x", "file", 0o755, 2_000_000))
    assert not cataloger.wants(FileInfo("usr/bin/x", "file", 0o644, 2_000_000))
    assert not cataloger.wants(FileInfo("usr/bin/x", "file", 0o755, 100))
    assert not cataloger.wants(FileInfo("usr/bin", "dir", 0o755, 4096))
    assert any(isinstance(c, GoCataloger) for c in ALL_CATALOGERS)
