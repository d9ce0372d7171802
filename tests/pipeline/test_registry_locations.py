"""``docker://REF`` is a source and a sink like any other transport, in every command
that reads or writes an image: sbom, analyze, import and export read and write it, and
``build --output`` pushes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.transports import write_image
from tests.conftest import requires_root, run_cli
from tests.registry.conftest import Server, skopeo
from tests.remote.conftest import login_ours, ok
from tests.sbom.conftest import build_image, dpkg_tree, tree_spec

pytestmark = pytest.mark.slow

NO_TLS = "--tls-verify=false"


def test_sbom_and_analyze_read_a_registry(ours: Server, authfile: Path, tmp_path: Path) -> None:
    login_ours(ours)
    layout = f"oci:{tmp_path / 'layout'}:v1"
    write_image(build_image(tree_spec(dpkg_tree(tmp_path / "rootfs"))), layout)
    remote = f"docker://{ours.host}/library/debianish:1"
    pushed = ok(run_cli(["copy", layout, remote, NO_TLS])).stdout.strip()

    def packages(target: str, *extra: str) -> list[str]:
        out = ok(run_cli(["sbom", target, "-o", "json", "--progress", "quiet", *extra])).stdout
        return [p["name"] for p in json.loads(out)["packages"]]

    assert (
        packages(remote, NO_TLS)
        == packages(layout)
        == [
            "base-files",
            "bash",
            "libc6",
            "libgcc-s1",
        ]
    )
    refused = run_cli(["sbom", remote, "--progress", "quiet"])  # TLS checked by default
    assert refused.returncode != 0 and refused.stderr.startswith("error:")
    analysis = json.loads(ok(run_cli(["analyze", remote, NO_TLS, "--format", "json"])).stdout)
    assert analysis["image"] == remote
    assert analysis["digest"] == pushed


def test_import_and_export_take_a_registry(
    ours: Server, authfile: Path, root: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    remote = f"docker://{ours.host}/library/hello:exported"
    doc = json.loads(
        ok(
            run_cli(["--root", str(root), "export", "hello:1", remote, NO_TLS, "--format", "json"])
        ).stdout
    )
    assert doc["image"] == "docker.io/library/hello:1" and doc["destination"] == remote
    seen = skopeo("inspect", NO_TLS, "--authfile", str(authfile), remote).stdout
    assert json.loads(seen)["Digest"] == doc["digest"]
    fresh = tmp_path / "fresh"
    imported = json.loads(
        ok(
            run_cli(
                [
                    "--root",
                    str(fresh),
                    "import",
                    remote,
                    "-t",
                    "again:1",
                    NO_TLS,
                    "--format",
                    "json",
                ]
            )
        ).stdout
    )
    assert imported["digest"] == doc["digest"]
    assert imported["names"] == ["docker.io/library/again:1"]


@requires_root
def test_build_output_pushes(ours: Server, authfile: Path, tmp_path: Path) -> None:
    login_ours(ours)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "hello.txt").write_text("hello\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    remote = f"docker://{ours.host}/library/built:1"
    built = json.loads(
        ok(
            run_cli(
                [
                    "--root",
                    str(tmp_path / "root"),
                    "build",
                    str(context),
                    "--output",
                    remote,
                    NO_TLS,
                    "--format",
                    "json",
                ]
            )
        ).stdout
    )
    assert built["outputs"] == [remote] and built["tags"] == []
    seen = skopeo("inspect", NO_TLS, "--authfile", str(authfile), remote).stdout
    assert json.loads(seen)["Digest"] == built["digest"]
