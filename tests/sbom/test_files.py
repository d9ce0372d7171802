"""DirFiles: what catalogers see of a directory target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageforge.errors import NotFound
from imageforge.sbom import DirFiles


def test_dir_files_lists_reads_and_describes(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text("Package: x\n")
    (tmp_path / "usr/bin").mkdir(parents=True)
    tool = tmp_path / "usr/bin/tool"
    tool.write_bytes(b"\x7fELF")
    tool.chmod(0o755)
    files = DirFiles(tmp_path)

    assert {"var", "var/lib/dpkg/status", "usr/bin/tool"} <= set(files.paths())
    assert files.read("var/lib/dpkg/status") == b"Package: x\n"
    info = files.info("usr/bin/tool")
    assert info is not None and info.executable and info.size == 4
    assert files.info("var/lib") is not None and not files.info("var/lib").executable  # type: ignore[union-attr]
    assert files.info("missing") is None
    with files.open("usr/bin/tool") as stream:
        assert stream.read() == b"\x7fELF"
    assert files.evidence("usr/bin/tool").path == "usr/bin/tool"


def test_dir_files_never_follows_links_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_text("host file")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink(str(outside), root / "etc/os-release")
    files = DirFiles(root)

    info = files.info("etc/os-release")
    assert info is not None and info.kind == "symlink" and info.linkname == str(outside)
    with pytest.raises(NotFound):
        files.read("etc/os-release")
    with pytest.raises(NotFound):
        files.read("../secret")
