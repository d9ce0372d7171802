"""Interop with the real tools from Debian: skopeo and umoci read what we write, we read
what they write, and digests survive the round trips."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import need_binary, run_cli
from tests.transports.conftest import run, tree

pytestmark = pytest.mark.slow


def _if(root: Path, *args: str) -> str:
    proc = run_cli(
        [
            "--root",
            str(root),
            *args,
            *(["--progress", "quiet"] if args[0] in ("import", "export") else []),
        ]
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _index_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return str(m["digest"])
    raise AssertionError(f"no {tag} in {layout}")


def test_skopeo_oci_layout_imports_with_the_same_manifest_digest(
    tmp_path: Path, umoci_layout: Path
) -> None:
    need_binary("skopeo")
    sk = tmp_path / "sk"
    run("skopeo", "copy", f"oci:{umoci_layout}:v1", f"oci:{sk}:v1")
    store = tmp_path / "store"
    digest = _if(store, "import", f"oci:{sk}:v1", "-t", "app:1").strip()
    assert digest == _index_digest(sk, "v1")
    listed = json.loads(_if(store, "images", "--format", "json"))
    assert [(i["repository"], i["tag"], i["digest"]) for i in listed] == [("app", "1", digest)]


def test_skopeo_docker_archive_keeps_config_and_diff_ids(
    tmp_path: Path, umoci_layout: Path
) -> None:
    need_binary("skopeo")
    archive = tmp_path / "img.tar"
    run("skopeo", "copy", f"oci:{umoci_layout}:v1", f"docker-archive:{archive}:app:1")
    raw_config = run("skopeo", "inspect", "--config", "--raw", f"docker-archive:{archive}")
    store = tmp_path / "store"
    _if(store, "import", f"docker-archive:{archive}", "-t", "app:1")
    doc = json.loads(_if(store, "inspect", "app:1", "--format", "json"))
    assert (
        doc["manifest"]["config"]["digest"]
        == "sha256:" + hashlib.sha256(raw_config.encode()).hexdigest()
    )
    assert [layer["diffId"] for layer in doc["layers"]] == json.loads(raw_config)["rootfs"][
        "diff_ids"
    ]


def test_export_is_accepted_by_skopeo_and_umoci(
    tmp_path: Path, umoci_layout: Path, rootfs: Path
) -> None:
    need_binary("skopeo")
    store = tmp_path / "store"
    _if(store, "import", f"rootfs:{rootfs}", "-t", "mine:1")
    out = tmp_path / "out"
    digest = _if(store, "export", "mine:1", f"oci:{out}:1").strip()
    info = json.loads(run("skopeo", "inspect", f"oci:{out}:1"))
    assert info["Digest"] == digest
    run("skopeo", "copy", f"oci:{out}:1", f"oci:{tmp_path / 'copied'}:1")
    assert _index_digest(tmp_path / "copied", "1") == digest
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", f"{out}:1", bundle)
    got, want = tree(bundle / "rootfs"), tree(rootfs)
    assert got == want


def test_oci_import_export_import_keeps_the_manifest_digest(
    tmp_path: Path, umoci_layout: Path
) -> None:
    store = tmp_path / "store"
    first = _if(store, "import", f"oci:{umoci_layout}:v1", "-t", "a:1").strip()
    _if(store, "export", "a:1", f"oci:{tmp_path / 'x'}:1")
    store2 = tmp_path / "store2"
    second = _if(store2, "import", f"oci:{tmp_path / 'x'}:1", "-t", "a:1").strip()
    assert first == second == _index_digest(umoci_layout, "v1")


def test_archives_round_trip_through_skopeo(tmp_path: Path, umoci_layout: Path) -> None:
    need_binary("skopeo")
    store = tmp_path / "store"
    digest = _if(store, "import", f"oci:{umoci_layout}:v1", "-t", "a:1").strip()
    _if(store, "export", "a:1", f"oci-archive:{tmp_path / 'a.tar'}")
    assert (
        json.loads(run("skopeo", "inspect", f"oci-archive:{tmp_path / 'a.tar'}"))["Digest"]
        == digest
    )
    _if(store, "export", "a:1", f"docker-archive:{tmp_path / 'd.tar'}")
    # skopeo finds the image by the name we wrote into manifest.json's RepoTags
    info = json.loads(run("skopeo", "inspect", f"docker-archive:{tmp_path / 'd.tar'}:a:1"))
    assert info["Name"] == "docker.io/library/a"
    # and back: the docker archive keeps config digest and diff_ids
    store2 = tmp_path / "store2"
    _if(store2, "import", f"docker-archive:{tmp_path / 'd.tar'}", "-t", "b:1")
    before = json.loads(_if(store, "inspect", "a:1", "--format", "json"))
    after = json.loads(_if(store2, "inspect", "b:1", "--format", "json"))
    assert after["manifest"]["config"]["digest"] == before["manifest"]["config"]["digest"]
    assert [x["diffId"] for x in after["layers"]] == [x["diffId"] for x in before["layers"]]
