"""The store commands as a user runs them: import, images, inspect, tag, rmi, prune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.cli._exit import EXIT_CODES
from imageforge.errors import ErrorKind
from tests.conftest import REPO, run_cli

EXAMPLE = REPO / "examples" / "hello-rootfs"


def _if(root: Path, *args: str) -> str:
    proc = run_cli(["--root", str(root), *args])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    _if(root, "import", f"rootfs:{EXAMPLE}", "-t", "hello:1", "--progress", "quiet")
    return root


def _names(root: Path) -> list[str]:
    return [
        f"{i['repository']}:{i['tag']}" for i in json.loads(_if(root, "images", "--format", "json"))
    ]


def test_import_lists_the_image(store: Path) -> None:
    rows = json.loads(_if(store, "images", "--format", "json"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["repository"], row["tag"]) == ("hello", "1")
    assert row["name"] == "docker.io/library/hello:1"
    assert row["platforms"] and row["platforms"][0].startswith("linux/")
    table = _if(store, "images")
    assert "REPOSITORY" in table and "hello" in table and row["id"][7:19] in table


def test_inspect_shows_layers_and_history(store: Path) -> None:
    doc = json.loads(_if(store, "inspect", "hello:1", "--format", "json"))
    assert len(doc["layers"]) == 1
    assert doc["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert doc["history"][0]["created_by"].startswith("imageforge import rootfs:")
    assert doc["config"]["rootfs"]["diff_ids"] == [doc["layers"][0]["diffId"]]
    text = _if(store, "inspect", "hello:1")
    assert doc["digest"] in text and "layers" in text and "history" in text


def test_import_prints_the_manifest_digest(store: Path, tmp_path: Path) -> None:
    out = _if(tmp_path / "s2", "import", f"rootfs:{EXAMPLE}", "-t", "a:1", "--progress", "quiet")
    doc = json.loads(_if(tmp_path / "s2", "inspect", "a:1", "--format", "json"))
    assert out.strip() == doc["digest"]


def test_tag_and_rmi(store: Path) -> None:
    _if(store, "tag", "hello:1", "registry.example.com/team/hello:2")
    assert sorted(_names(store)) == ["hello:1", "registry.example.com/team/hello:2"]
    out = _if(store, "rmi", "hello:1")
    assert "Untagged: hello:1" in out
    assert _names(store) == ["registry.example.com/team/hello:2"]
    blobs = list((store / "blobs" / "sha256").iterdir())
    assert len(blobs) == 3  # manifest, config, layer: still named
    out = _if(store, "rmi", "registry.example.com/team/hello:2")
    assert "Deleted: 3 blobs" in out
    assert list((store / "blobs" / "sha256").iterdir()) == []


def test_inspect_by_id_prefix(store: Path) -> None:
    digest = json.loads(_if(store, "inspect", "hello:1", "--format", "json"))["digest"]
    doc = json.loads(_if(store, "inspect", digest[7:19], "--format", "json"))
    assert doc["digest"] == digest


def test_unknown_image_is_not_found(store: Path) -> None:
    proc = run_cli(["--root", str(store), "inspect", "nope:1"])
    assert proc.returncode == EXIT_CODES[ErrorKind.NOT_FOUND]
    assert proc.stderr.startswith("error: image 'nope:1' is not in the store")


def test_bad_reference_is_invalid(store: Path) -> None:
    proc = run_cli(["--root", str(store), "tag", "hello:1", "Bad:Name:x"])
    assert proc.returncode == EXIT_CODES[ErrorKind.INVALID_ARGUMENT]
    assert "invalid reference" in proc.stderr


def test_prune_dry_run_then_real(store: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "f").write_text("other")
    _if(store, "import", f"rootfs:{other}", "-t", "other:1", "--progress", "quiet")
    run_cli(["--root", str(store), "rmi", "other:1"])  # rmi prunes already
    report = json.loads(_if(store, "prune", "--dry-run", "--format", "json"))
    assert report["removed"] == [] and report["dryRun"] is True
    assert _names(store) == ["hello:1"]


def test_export_then_import_archives(store: Path, tmp_path: Path) -> None:
    digest = json.loads(_if(store, "inspect", "hello:1", "--format", "json"))["digest"]
    for dest in (f"oci-archive:{tmp_path / 'h.tar'}", f"oci:{tmp_path / 'lay'}"):
        assert _if(store, "export", "hello:1", dest, "--progress", "quiet").strip() == digest
    assert (
        json.loads((tmp_path / "lay" / "index.json").read_text())["manifests"][0]["annotations"][
            "org.opencontainers.image.ref.name"
        ]
        == "1"
    )
    s2 = tmp_path / "s2"
    assert (
        _if(
            s2, "import", f"oci-archive:{tmp_path / 'h.tar'}", "-t", "h:1", "--progress", "quiet"
        ).strip()
        == digest
    )


def test_export_to_store_name_is_refused(store: Path) -> None:
    proc = run_cli(["--root", str(store), "export", "hello:1", "other:1"])
    assert proc.returncode == EXIT_CODES[ErrorKind.INVALID_ARGUMENT]
    assert "export needs oci:" in proc.stderr


def test_import_export_tag_rmi_speak_json(store: Path, tmp_path: Path) -> None:
    imported = json.loads(
        _if(
            tmp_path / "s2",
            "import",
            f"rootfs:{EXAMPLE}",
            "-t",
            "a:1",
            "-t",
            "a:2",
            "--progress",
            "quiet",
            "--format",
            "json",
        )
    )
    digest = json.loads(_if(tmp_path / "s2", "inspect", "a:1", "--format", "json"))["digest"]
    assert imported["digest"] == digest
    assert imported["names"] == ["docker.io/library/a:1", "docker.io/library/a:2"]
    layout = tmp_path / "layout"
    exported = json.loads(
        _if(store, "export", "hello:1", f"oci:{layout}", "--progress", "quiet", "--format", "json")
    )
    assert (
        exported["digest"]
        == json.loads(_if(store, "inspect", "hello:1", "--format", "json"))["digest"]
    )
    assert exported["destination"].startswith("oci:") and (layout / "index.json").is_file()
    tagged = json.loads(_if(store, "tag", "hello:1", "hello:2", "--format", "json"))
    assert tagged == {
        "source": "docker.io/library/hello:1",
        "name": "docker.io/library/hello:2",
        "digest": exported["digest"],
    }
    removed = json.loads(_if(store, "rmi", "hello:1", "--format", "json"))
    assert removed == {
        "untagged": ["docker.io/library/hello:1"],
        "deletedBlobs": 0,
        "freed": 0,
        "busy": False,
    }
    removed = json.loads(_if(store, "rmi", "hello:2", "--format", "json"))
    assert removed["untagged"] == ["docker.io/library/hello:2"] and removed["deletedBlobs"] == 3
    assert removed["freed"] > 0
