"""The Java cataloger over archives built here with zipfile (nested, shaded, manifest
only, corrupt, bombs) and over Maven's real jars, checked against what the JDK's ``jar``
tool extracts from them."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from imageforge.sbom import FileInfo
from imageforge.sbom.catalogers import ALL_CATALOGERS, JavaCataloger
from imageforge.sbom.catalogers._java import MAX_DEPTH, parse_manifest
from tests.conftest import need_binary

from .conftest import run, write

POM_XML = """<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <licenses><license><name>Apache License, Version 2.0</name></license></licenses>
</project>
"""


def _jar(entries: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _pom(group: str, artifact: str, version: str) -> dict[str, bytes | str]:
    base = f"META-INF/maven/{group}/{artifact}/"
    text = f"#Generated\nversion={version}\ngroupId={group}\nartifactId={artifact}\n"
    return {base + "pom.properties": text}


def test_jar_with_pom_properties_and_license(tmp_path: Path) -> None:
    entries = {
        "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nImplementation-Version: 9.9\n",
        **_pom("org.example", "lib", "1.2.3"),
        "META-INF/maven/org.example/lib/pom.xml": POM_XML,
        "org/example/Lib.class": b"\xca\xfe\xba\xbe",
    }
    write(tmp_path, "opt/app/lib-1.2.3.jar", _jar(entries))

    packages, warnings = run(JavaCataloger(), tmp_path)

    assert warnings == []
    assert len(packages) == 1
    lib = packages[0]
    assert (lib.name, lib.version, lib.type) == ("lib", "1.2.3", "java-archive")
    assert lib.purl == "pkg:maven/org.example/lib@1.2.3"
    assert lib.licenses == ("Apache-2.0",)
    assert lib.evidence[0].path == "opt/app/lib-1.2.3.jar"
    assert "cpe:2.3:a:example:lib:1.2.3:*:*:*:*:*:*:*" in lib.cpes


def test_war_with_nested_and_shaded_jars(tmp_path: Path) -> None:
    inner = _jar(
        {**_pom("com.acme", "core", "2.0"), "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}
    )
    shaded = _jar(
        {
            **_pom("com.acme", "fat", "3.0"),
            **_pom("org.shaded", "guts", "0.1"),
        }
    )
    war = _jar(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nImplementation-Title: shop\n"
            "Implementation-Version: 5.0\nImplementation-Vendor-Id: com.acme\n",
            "WEB-INF/lib/core-2.0.jar": inner,
            "WEB-INF/lib/fat-3.0.jar": shaded,
        },
        zipfile.ZIP_STORED,
    )
    write(tmp_path, "srv/shop.war", war)

    packages, warnings = run(JavaCataloger(), tmp_path)

    assert warnings == []
    found = {(p.purl, p.metadata["virtual_path"]) for p in packages}
    assert found == {
        ("pkg:maven/com.acme/shop@5.0", "/srv/shop.war"),
        ("pkg:maven/com.acme/core@2.0", "/srv/shop.war:WEB-INF/lib/core-2.0.jar"),
        ("pkg:maven/com.acme/fat@3.0", "/srv/shop.war:WEB-INF/lib/fat-3.0.jar"),
        (
            "pkg:maven/org.shaded/guts@0.1",
            "/srv/shop.war:WEB-INF/lib/fat-3.0.jar:META-INF/maven/org.shaded/guts/pom.properties",
        ),
    }
    assert all(p.evidence[0].path == "srv/shop.war" for p in packages)


def test_cpes_follow_the_group() -> None:
    from imageforge.sbom import DirFiles
    from imageforge.sbom.catalogers._java import _java_package

    files = DirFiles(Path("/nonexistent"))
    codec = _java_package("commons-codec", "1.15", "commons-codec", [], "a.jar", "/a.jar", files)
    assert "cpe:2.3:a:apache:commons-codec:1.15:*:*:*:*:*:*:*" in codec.cpes
    undated = _java_package("x", "UNKNOWN", "", [], "x.jar", "/x.jar", files)
    assert undated.cpes == ("cpe:2.3:a:x:x:*:*:*:*:*:*:*:*",)


def test_manifest_continuation_lines_and_sections() -> None:
    text = (
        "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.tool\r\n"
        "Bundle-Version: 4.5.6\r\n"
        "Bundle-License: https://www.apache.org/licenses/LICE\r\n NSE-2.0.txt\r\n"
        "\r\nName: org/example/\r\nSealed: true\r\n"
    )
    manifest = parse_manifest(text)
    assert manifest["Bundle-License"] == "https://www.apache.org/licenses/LICENSE-2.0.txt"
    assert "Sealed" not in manifest


def test_manifest_only_jar_is_a_package(tmp_path: Path) -> None:
    manifest = (
        "Manifest-Version: 1.0\nBundle-SymbolicName: org.example.tool\nBundle-Version: 4.5.6\n"
        "Bundle-License: https://www.apache.org/licenses/LICENSE-2.0.txt\n"
    )
    write(tmp_path, "tool.jar", _jar({"META-INF/MANIFEST.MF": manifest}))
    write(tmp_path, "empty.jar", _jar({"a.txt": "no metadata"}))
    # a manifest that dates nothing: syft's UNKNOWN version, and the unrelated pom apart
    undated = {"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n", **_pom("x.y", "other", "2")}
    write(tmp_path, "undated.jar", _jar(undated))

    packages, warnings = run(JavaCataloger(), tmp_path)

    assert warnings == []
    assert sorted((p.purl, p.version, p.licenses) for p in packages) == [
        ("pkg:maven/org.example.tool/tool@4.5.6", "4.5.6", ("Apache-2.0",)),
        ("pkg:maven/undated/undated", "UNKNOWN", ()),
        ("pkg:maven/x.y/other@2", "2", ()),
    ]


def test_corrupt_archives_and_bombs_warn(tmp_path: Path) -> None:
    write(tmp_path, "ok.jar", _jar(_pom("g", "ok", "1")))
    write(tmp_path, "corrupt.jar", b"PK\x03\x04 this is not really a zip")
    write(tmp_path, "truncated.jar", _jar(_pom("g", "t", "1") | {"pad": "x" * 5000})[:-60])
    # an entry that inflates 200-fold and more: refused before it is inflated
    bomb = _jar({"WEB-INF/lib/zeros.jar": b"\0" * (8 * 1024 * 1024)})
    write(tmp_path, "bomb.war", bomb)
    nested = _jar(_pom("g", "deep", "1"))
    for level in range(MAX_DEPTH + 1):
        nested = _jar({f"lib/level{level}.jar": nested}, zipfile.ZIP_STORED)
    write(tmp_path, "deep.ear", nested)

    packages, warnings = run(JavaCataloger(), tmp_path)

    assert [p.name for p in packages] == ["ok"]
    warned = sorted({path for path, _ in warnings})
    assert warned == ["bomb.war", "corrupt.jar", "deep.ear", "truncated.jar"]
    assert any("bomb" in msg for path, msg in warnings if path == "bomb.war")
    assert any("deeper" in msg for path, msg in warnings if path == "deep.ear")


def test_wants_archives_by_suffix() -> None:
    cataloger = JavaCataloger()
    for name in ("a.jar", "b.WAR", "c.ear", "d.jpi", "e.hpi"):
        assert cataloger.wants(FileInfo(name, "file", 0o644, 10))
    assert not cataloger.wants(FileInfo("a.jar", "symlink", 0o777, 10))
    assert not cataloger.wants(FileInfo("a.zip", "file", 0o644, 10))
    assert any(isinstance(c, JavaCataloger) for c in ALL_CATALOGERS)


MAVEN_LIB = Path("/usr/share/maven/lib")


def test_maven_jars_match_what_jar_extracts(tmp_path: Path) -> None:
    """Every pom.properties the JDK's jar tool finds in Maven's own jars is a package."""
    jar = need_binary("jar")
    if not MAVEN_LIB.is_dir():
        pytest.fail(f"{MAVEN_LIB} is missing; 'make setup' installs maven")
    root = tmp_path / "root"
    (root / "lib").mkdir(parents=True)
    for source in sorted(MAVEN_LIB.glob("*.jar"))[:15]:
        shutil.copy(source.resolve(), root / "lib" / source.name)
    expected: set[tuple[str, str, str]] = set()
    for archive in sorted((root / "lib").iterdir()):
        listing = subprocess.run(
            [jar, "tf", str(archive)], check=True, capture_output=True, text=True
        )
        props = [n for n in listing.stdout.split() if n.endswith("/pom.properties")]
        if not props:
            continue
        out = tmp_path / "x" / archive.name
        out.mkdir(parents=True)
        subprocess.run([jar, "xf", str(archive), *props], cwd=out, check=True)
        for prop in props:
            fields = dict(
                line.split("=", 1)
                for line in (out / prop).read_text().splitlines()
                if "=" in line and not line.startswith("#")
            )
            expected.add((fields["groupId"], fields["artifactId"], fields["version"]))
    assert len(expected) >= 10

    packages, warnings = run(JavaCataloger(), root)

    assert warnings == []
    found = {(p.metadata.get("group_id", ""), p.name, p.version) for p in packages}
    assert expected <= found
