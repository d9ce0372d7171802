"""generate(): catalogers driven over a directory or an image, edges, distro, warnings."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from imageforge.oci import Digest
from imageforge.sbom import (
    DirFiles,
    FileInfo,
    Files,
    Package,
    SourceInfo,
    Warn,
    generate,
    render,
)
from imageforge.sbom.catalogers import DpkgCataloger
from tests.sbom.conftest import build_image, dpkg_tree, tree_spec


def _by_name(packages: Iterable[Package]) -> dict[str, Package]:
    return {p.name: p for p in packages}


def test_directory_packages_edges_and_distro(tmp_path: Path) -> None:
    sbom = generate(DirFiles(dpkg_tree(tmp_path / "root")))
    assert sbom.source.kind == "directory"
    assert sbom.distro is not None and (sbom.distro.id, sbom.distro.version_id) == ("debian", "12")
    names = [p.name for p in sbom.packages]
    assert names == ["base-files", "bash", "libc6", "libgcc-s1"]  # sorted; config-files dropped
    pkgs = _by_name(sbom.packages)
    assert pkgs["libc6"].purl == (
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    )
    edges = {(r.parent, r.child) for r in sbom.relationships}
    ids = {name: p.id for name, p in pkgs.items()}
    assert (ids["bash"], ids["libc6"]) in edges  # Pre-Depends
    assert (ids["bash"], ids["base-files"]) in edges
    assert (ids["libc6"], ids["libgcc-s1"]) in edges  # first alternative that exists
    assert (ids["libgcc-s1"], ids["libc6"]) in edges
    assert len(edges) == 4  # libtinfo6, debianutils, gcc-12-base are not installed
    assert sbom.warnings == []


def test_image_gives_the_same_packages_with_layers(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    spec = tree_spec(root)
    base = {k: v for k, v in spec.items() if not k.startswith("usr/share")}
    top = {k: v for k, v in spec.items() if k.startswith("usr/share")}
    image = build_image(base, top)
    layers = [str(layer.digest) for layer in image.layers()]
    sbom = generate(image, SourceInfo(kind="image", name="example:1"))
    assert sbom.source.kind == "image" and sbom.source.name == "example:1"
    assert sbom.source.digest == str(image.digest)
    from_dir = generate(DirFiles(root))
    assert [(p.name, p.version, p.purl, p.files) for p in sbom.packages] == [
        (p.name, p.version, p.purl, p.files) for p in from_dir.packages
    ]
    bash = _by_name(sbom.packages)["bash"]
    assert [(e.path, e.layer) for e in bash.evidence] == [
        ("var/lib/dpkg/status", layers[0]),
        ("var/lib/dpkg/info/bash.list", layers[0]),
        ("usr/share/doc/bash/copyright", layers[1]),
    ]
    assert sbom.distro is not None and sbom.distro.id == "debian"  # through the symlink


def test_truncated_status_warns_and_keeps_the_rest(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    text = status.read_text()
    cut = text.index("Version: 5.2.15")  # bash's paragraph loses its Version
    status.write_text(text[:cut] + "Vers")
    sbom = generate(DirFiles(root))
    assert [p.name for p in sbom.packages] == ["base-files", "libc6", "libgcc-s1"]
    assert sbom.warnings == [
        "var/lib/dpkg/status: line 27: paragraph has no Version field "
        "(truncated or damaged database); skipped",
        "var/lib/dpkg/status: line 30: the file ends inside a line (truncated?)",
    ]


def test_huge_copyright_warns_and_the_package_stays(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    with (root / "usr/share/doc/bash/copyright").open("r+b") as f:
        f.truncate(5 << 20)  # sparse: cheap to make, bigger than the 4 MiB read
    sbom = generate(DirFiles(root))
    bash = _by_name(sbom.packages)["bash"]
    assert bash.licenses == ()
    assert sbom.warnings == [
        f"usr/share/doc/bash/copyright: {5 << 20} bytes, more than the 4 MiB read; skipped"
    ]


def test_hostile_symlinks_never_read_the_host(tmp_path: Path) -> None:
    assert Path("/etc/os-release").exists() or Path("/usr/lib/os-release").exists()
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    os.symlink("/etc/os-release", root / "etc/os-release")
    os.symlink("../../../../../../../../usr/lib/os-release", root / "os-up")
    (root / "usr/lib").mkdir(parents=True)
    os.symlink("/os-up", root / "usr/lib/os-release")
    os.symlink("/var/lib/dpkg/status", root / "var/lib/dpkg/status")  # the host has one
    os.symlink(str(tmp_path), root / "escape")
    sbom = generate(DirFiles(root))
    assert sbom.distro is None and sbom.packages == []
    image = build_image(tree_spec(root))
    sbom = generate(image)
    assert sbom.distro is None and sbom.packages == []
    # A symlinked directory: lstat of etc/os-release would follow etc -> /etc.
    other = tmp_path / "other"
    (other / "var/lib").mkdir(parents=True)
    os.symlink("/etc", other / "etc")
    os.symlink("/var/lib/dpkg", other / "var/lib/dpkg")
    sbom = generate(DirFiles(other))
    assert sbom.distro is None and sbom.packages == []
    assert DirFiles(other).info("var/lib/dpkg/status") is None


class _Broken:
    name = "broken"

    def wants(self, info: FileInfo) -> bool:
        return False

    def catalog(self, files: Files, warn: Warn) -> Iterable[Package]:
        raise RuntimeError("bug")


def test_a_failing_cataloger_costs_only_its_own_packages(tmp_path: Path) -> None:
    sbom = generate(DirFiles(dpkg_tree(tmp_path / "root")), catalogers=[_Broken(), DpkgCataloger()])
    assert len(sbom.packages) == 4
    assert sbom.warnings == ["cataloger broken: stopped: RuntimeError: bug"]


def test_corrupt_layer_named_and_the_rest_produced(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    spec = tree_spec(root)
    blobs: dict[Digest, bytes] = {}
    noise = {"opt/noise": os.urandom(200_000)}
    image = build_image(spec, noise, blobs=blobs)
    digest = image.manifest().layers[1].digest
    raw = bytearray(blobs[digest])
    raw[len(raw) // 2] ^= 0xFF
    blobs[digest] = bytes(raw)
    sbom = generate(image)
    assert len(sbom.packages) == 4
    assert len(sbom.warnings) == 1 and sbom.warnings[0].startswith(f"layer #2 ({digest}): ")


def test_same_input_same_bytes(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    image = build_image(tree_spec(root))
    for fmt in ("table", "json", "spdx-json", "cyclonedx-json"):
        first = render(generate(image, SourceInfo(kind="image", name="x")), fmt)
        second = render(generate(image, SourceInfo(kind="image", name="x")), fmt)
        assert first == second, fmt
        assert render(generate(DirFiles(root)), fmt) == render(generate(DirFiles(root)), fmt)
