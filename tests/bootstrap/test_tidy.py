"""slimify on a small tree: dangling links are judged with the tree as "/", not the host."""

from __future__ import annotations

from pathlib import Path

from imageforge.bootstrap._tidy import slimify


def test_slim_removes_links_that_dangle_inside_the_tree_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    root = tmp_path / "rootfs"
    doc = root / "usr/share/doc"
    (doc / "pkg").mkdir(parents=True)
    (doc / "pkg/copyright").write_text("kept by an include\n")
    (doc / "pkg/README").write_text("removed\n")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\n")
    # resolves inside the tree through an absolute target and through '..'
    (doc / "abs").symlink_to("/" + "usr/share/doc/pkg/copyright")  # inside the image
    (doc / "rel").symlink_to("../../../../../../etc/os-release")
    # the host has /etc/hostname, the tree does not: dangling in the image
    (doc / "host").symlink_to("/etc/hostname")
    # pointed at a file that slimify removes
    (doc / "readme").symlink_to("pkg/README")
    # below a file: ENOTDIR, dangling
    (doc / "notdir").symlink_to("pkg/copyright/..")
    slimify(root)
    left = sorted(p.name for p in doc.iterdir())
    assert left == ["abs", "pkg", "rel"]
    assert sorted(p.name for p in (doc / "pkg").iterdir()) == ["copyright"]
