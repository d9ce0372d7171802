"""``retire`` of a store image: archived, its names removed, its blobs pruned, and the
archive imported back under the same digest."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.remote.conftest import hello_store as hello_store
from tests.remote.conftest import ok
from tests.remote.conftest import root as root


def test_retire_a_store_image_and_import_it_back(root: Path, tmp_path: Path) -> None:
    cli = ["--root", str(root)]
    digest = json.loads(ok(run_cli([*cli, "inspect", "hello:1", "--format", "json"])).stdout)[
        "digest"
    ]
    archive = tmp_path / "hello.tar"
    r = ok(
        run_cli(
            [*cli, "retire", "hello:1", "--archive", f"oci-archive:{archive}", "--format", "json"]
        )
    )
    done = json.loads(r.stdout)
    assert done["digest"] == digest and done["deleted"] == ["docker.io/library/hello:1"]
    assert done["freedBytes"] > 0
    assert "hello" not in ok(run_cli([*cli, "images"])).stdout
    r = ok(run_cli([*cli, "import", f"oci-archive:{archive}", "-t", "hello:1", "--format", "json"]))
    assert json.loads(r.stdout)["digest"] == digest


def test_retire_refuses_an_archive_that_is_not_oci_archive(root: Path, tmp_path: Path) -> None:
    r = run_cli(["--root", str(root), "retire", "hello:1", "--archive", str(tmp_path / "x")])
    assert r.returncode == 2 and "oci-archive:" in r.stderr
    assert "hello" in ok(run_cli(["--root", str(root), "images"])).stdout  # nothing deleted
