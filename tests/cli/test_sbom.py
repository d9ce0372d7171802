"""``imageforge sbom`` as a user runs it: directories and images, formats, --file,
warnings on stderr."""

from __future__ import annotations

import json
from pathlib import Path

from imageforge.cli._exit import EXIT_CODES
from imageforge.errors import ErrorKind
from imageforge.transports import write_image
from tests.conftest import run_cli
from tests.sbom.conftest import build_image, dpkg_tree, tree_spec


def test_directory_to_file_as_json(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    out = tmp_path / "out" / "sbom.json"
    proc = run_cli(["sbom", str(root), "-o", "json", "--file", str(out), "--progress", "quiet"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    doc = json.loads(out.read_text())
    assert doc["source"] == {
        "kind": "directory",
        "name": str(root),
        "digest": None,
        "configDigest": None,
        "architecture": None,
        "os": None,
        "created": None,
    }
    assert [p["name"] for p in doc["packages"]] == ["base-files", "bash", "libc6", "libgcc-s1"]


def test_oci_image_table_and_spdx(tmp_path: Path) -> None:
    image = build_image(tree_spec(dpkg_tree(tmp_path / "root")))
    write_image(image, f"oci:{tmp_path / 'layout'}:v1")
    ref = f"oci:{tmp_path / 'layout'}:v1"
    proc = run_cli(["sbom", ref, "--progress", "quiet"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "TYPE"]
    assert [line.split()[0] for line in lines[1:]] == ["base-files", "bash", "libc6", "libgcc-s1"]
    spdx = run_cli(["sbom", ref, "-o", "spdx-json", "--progress", "quiet"])
    again = run_cli(["sbom", ref, "-o", "spdx-json", "--progress", "quiet"])
    assert spdx.returncode == 0 and spdx.stdout == again.stdout
    doc = json.loads(spdx.stdout)
    assert doc["name"] == ref and doc["packages"][0]["versionInfo"] == str(image.digest)


def test_warnings_go_to_stderr_and_the_sbom_is_produced(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text()[:-200])
    proc = run_cli(["sbom", str(root), "--progress", "quiet"])
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        "warning: var/lib/dpkg/status: line 30: the file ends inside a line (truncated?)"
    ]
    assert "libc6" in proc.stdout


def test_unknown_target_fails_cleanly(tmp_path: Path) -> None:
    proc = run_cli(
        ["--root", str(tmp_path / "store"), "sbom", "no-such-image", "--progress", "quiet"]
    )
    assert proc.returncode == EXIT_CODES[ErrorKind.NOT_FOUND]
    assert proc.stderr.startswith("error: ") and "no-such-image" in proc.stderr
    bad = run_cli(["sbom", str(tmp_path), "-o", "xml"])
    assert bad.returncode != 0 and "xml" in bad.stderr


def test_a_path_that_is_not_a_directory_is_named_as_a_path(tmp_path: Path) -> None:
    """``sbom /nonexistent/dir`` meant a directory: the error says so instead of
    looking for an image of that name."""
    missing = tmp_path / "nonexistent" / "dir"
    proc = run_cli(["--root", str(tmp_path / "store"), "sbom", str(missing)])
    assert proc.returncode == EXIT_CODES[ErrorKind.NOT_FOUND]
    assert f"error: {missing} does not exist" in proc.stderr
    assert "not in the store" not in proc.stderr
    afile = tmp_path / "rootfs.tar"
    afile.write_bytes(b"")
    proc = run_cli(["--root", str(tmp_path / "store"), "sbom", f"./{afile.name}"], cwd=tmp_path)
    assert proc.returncode == EXIT_CODES[ErrorKind.NOT_FOUND]
    assert "is not a directory" in proc.stderr and "oci-archive:" in proc.stderr


def test_format_is_the_flag_and_o_its_alias(tmp_path: Path) -> None:
    root = tmp_path / "root"
    dpkg_tree(root)
    by_format = run_cli(["sbom", str(root), "--format", "json", "--progress", "quiet"])
    by_o = run_cli(["sbom", str(root), "-o", "json", "--progress", "quiet"])
    assert by_format.returncode == 0, by_format.stderr
    assert json.loads(by_format.stdout) == json.loads(by_o.stdout)
