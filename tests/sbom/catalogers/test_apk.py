"""The apk cataloger over an installed database written as Alpine writes it."""

from __future__ import annotations

from pathlib import Path

from imageforge.sbom import DirFiles, generate
from tests.sbom.conftest import build_image, tree_spec

INSTALLED = """\
C:Q1hTh6pY3ryQpxIWBVpyo+DiPtzUU=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407447
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1704907717
c:ca7f2ab5e88794e4e654b40776f8a92256f50639
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
R:libc.musl-x86_64.so.1

P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1
p:cmd:busybox=1.36.1-r15
F:bin
R:busybox

P:ssl_client
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1 busybox>=1.36 !openssl-client
p:cmd:ssl_client=1.36.1-r15

P:zlib
V:1.3.1-r0
A:x86_64
L:Zlib other-license
o:zlib
D:so:libc.musl-x86_64.so.1

"""

OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'


def _alpine(root: Path, db: str = INSTALLED) -> Path:
    (root / "lib/apk/db").mkdir(parents=True)
    (root / "lib/apk/db/installed").write_text(db)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text(OS_RELEASE)
    return root


def test_packages_purls_files_and_edges(tmp_path: Path) -> None:
    sbom = generate(DirFiles(_alpine(tmp_path / "root")))
    assert sbom.distro is not None and sbom.distro.version_id == "3.19.1"
    pkgs = {p.name: p for p in sbom.packages}
    assert [(p.name, p.version, p.type) for p in sbom.packages] == [
        ("busybox", "1.36.1-r15", "apk"),
        ("musl", "1.2.4_git20230717-r4", "apk"),
        ("ssl_client", "1.36.1-r15", "apk"),
        ("zlib", "1.3.1-r0", "apk"),
    ]
    musl = pkgs["musl"]
    assert musl.purl == (
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1&upstream=musl"
    )
    assert musl.files == ("lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1")
    assert musl.licenses == ("MIT",) and musl.supplier == "Natanael Copa <ncopa@alpinelinux.org>"
    assert pkgs["zlib"].licenses == ("Zlib", "other-license")
    assert pkgs["ssl_client"].depends_on == ("musl", "busybox")  # via so: provides; ! dropped
    assert pkgs["ssl_client"].source_name == "busybox"
    ids = {n: p.id for n, p in pkgs.items()}
    edges = {(r.parent, r.child) for r in sbom.relationships}
    assert edges == {
        (ids["busybox"], ids["musl"]),
        (ids["ssl_client"], ids["musl"]),
        (ids["ssl_client"], ids["busybox"]),
        (ids["zlib"], ids["musl"]),
    }
    assert sbom.warnings == []


def test_truncated_database_warns_and_keeps_the_rest(tmp_path: Path) -> None:
    cut = INSTALLED.index("V:1.3.1-r0")
    sbom = generate(DirFiles(_alpine(tmp_path / "root", INSTALLED[:cut] + "V:1.3")))
    assert [p.name for p in sbom.packages] == ["busybox", "musl", "ssl_client", "zlib"]
    assert sbom.warnings == [
        "lib/apk/db/installed: line 39: the file ends inside a line (truncated?)"
    ]
    sbom = generate(DirFiles(_alpine(tmp_path / "other", INSTALLED[:cut])))
    assert [p.name for p in sbom.packages] == ["busybox", "musl", "ssl_client"]
    assert sbom.warnings == [
        "lib/apk/db/installed: line 38: package has no V (version) field; skipped"
    ]


def test_from_an_image_with_layer(tmp_path: Path) -> None:
    image = build_image(tree_spec(_alpine(tmp_path / "root")))
    sbom = generate(image)
    layer = str(image.layers()[0].digest)
    assert len(sbom.packages) == 4
    assert all(p.evidence[0].layer == layer for p in sbom.packages)
