"""ImageFiles: an image read as catalogers see it, without unpacking it."""

from __future__ import annotations

import pytest

from imageforge.errors import NotFound
from imageforge.layers import resolve_in_view
from imageforge.oci import Digest
from imageforge.sbom import ImageFiles
from tests.sbom.conftest import build_image


def test_merged_view_with_layer_of_origin_and_batched_reads() -> None:
    image = build_image(
        {"etc": None, "etc/conf": b"v1", "etc/gone": b"old", "usr/lib/os-release": b"ID=x\n"},
        {
            "etc/conf": b"v2",
            "etc/gone": "whiteout",
            "etc/os-release": ("symlink", "../usr/lib/os-release"),
            "usr/bin/hard": ("hardlink", "etc/conf"),
        },
    )
    layers = [str(layer.digest) for layer in image.layers()]
    warnings: list[str] = []
    with ImageFiles(image, warn=lambda p, m: warnings.append(f"{p}: {m}")) as files:
        paths = set(files.paths())
        assert {"etc", "etc/conf", "usr", "usr/lib", "usr/lib/os-release"} <= paths
        assert "etc/gone" not in paths and files.info("etc/gone") is None
        conf = files.info("etc/conf")
        assert conf is not None and conf.kind == "file" and conf.layer == layers[1]
        link = files.info("etc/os-release")
        assert link is not None and link.kind == "symlink"
        assert link.linkname == "../usr/lib/os-release"
        assert files.info("usr/bin") is not None  # implied by a member below it
        files.load(["etc/conf", "etc/os-release", "usr/bin/hard", "missing"])
        assert files.read("etc/conf") == b"v2"
        assert files.read("etc/os-release") == b"ID=x\n"  # loaded through the link
        assert files.read("usr/bin/hard") == b"v2"
        assert files.evidence("etc/conf").layer == layers[1]
        with pytest.raises(NotFound):
            files.read("etc/gone")
        with pytest.raises(NotFound):
            files.read("etc")
    assert warnings == []


def test_big_files_are_spooled_to_disk_and_removed_on_close() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    image = build_image({"opt/big.bin": big, "opt/small": b"s"})
    files = ImageFiles(image, memory_limit=1000)
    files.load(["opt/big.bin", "opt/small"])
    with files.open("opt/big.bin") as stream:
        assert stream.read() == big
    assert files.read("opt/small") == b"s"
    spool_dir = files.view.spool_dir
    assert spool_dir is not None and any(spool_dir.iterdir())
    files.close()
    assert not spool_dir.exists()


def test_a_file_not_loaded_is_read_on_demand() -> None:
    image = build_image({"a": b"one"}, {"b": b"two"})
    with ImageFiles(image) as files:
        assert files.read("b") == b"two"
        with files.open("a") as stream:
            assert stream.read() == b"one"


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_corrupt_layer_is_named_and_the_others_still_served(damage: str) -> None:
    blobs: dict[Digest, bytes] = {}
    image = build_image({"a": b"one"}, {"b": b"two" * 20_000}, {"c": b"three"}, blobs=blobs)
    digest = image.manifest().layers[1].digest
    raw = bytearray(blobs[digest])
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    else:
        del raw[-20:]
    blobs[digest] = bytes(raw)
    warnings: list[str] = []
    with ImageFiles(image, warn=lambda p, m: warnings.append(f"{p}: {m}")) as files:
        assert files.read("a") == b"one" and files.read("c") == b"three"
        assert files.info("b") is None
    assert len(warnings) == 1
    assert warnings[0].startswith(f"layer #2 ({digest}): layer skipped")


def test_symlinks_resolve_inside_the_image_only() -> None:
    image = build_image(
        {
            "etc/passwd": b"image's own\n",
            "a/b/up": ("symlink", "../../../../../../etc/passwd"),
            "abs": ("symlink", "/etc/passwd"),
            "loop1": ("symlink", "loop2"),
            "loop2": ("symlink", "/loop1"),
            "via/dir": ("symlink", "/etc"),
        }
    )
    with ImageFiles(image) as files:
        assert resolve_in_view(files.info, "a/b/up") == "etc/passwd"
        assert resolve_in_view(files.info, "abs") == "etc/passwd"
        assert resolve_in_view(files.info, "via/dir/passwd") == "etc/passwd"
        assert resolve_in_view(files.info, "loop1") is None
        assert resolve_in_view(files.info, "etc/passwd/x") is None
        files.load(["a/b/up"])
        assert files.read("a/b/up") == b"image's own\n"
