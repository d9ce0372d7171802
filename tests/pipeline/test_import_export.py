"""``import`` and ``export`` as a library user calls them: into the store under the
names given, out of it under the image's own tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument, NotFound
from imageforge.pipeline import Session, export_image, import_image
from imageforge.store import Store
from imageforge.transports import TransportRef

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_an_import_is_named_every_name_given(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    with Session(store) as s:
        imported = import_image(s, f"rootfs:{EXAMPLES / 'hello-rootfs'}", ["hello:1", "hi"])
    assert imported.names == ("docker.io/library/hello:1", "docker.io/library/hi:latest")
    for name in imported.names:
        assert store.refs.get(name).digest == imported.digest
    assert imported.media_type == "application/vnd.oci.image.manifest.v1+json"


def test_an_import_needs_a_good_name_before_it_reads_anything(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    with Session(store) as s:
        with pytest.raises(InvalidArgument, match="nothing would name the import"):
            import_image(s, f"rootfs:{EXAMPLES / 'hello-rootfs'}", [])
        with pytest.raises(InvalidArgument):
            import_image(s, f"rootfs:{EXAMPLES / 'hello-rootfs'}", ["Not A Name"])
    assert store.refs.all() == []


def test_an_export_without_a_tag_takes_the_image_s_own(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    layout = tmp_path / "layout"
    with Session(store) as s:
        imported = import_image(s, f"rootfs:{EXAMPLES / 'hello-rootfs'}", ["hello:1"])
        exported = export_image(s, imported.digest.hex[:12], f"oci:{layout}")
    assert exported.name == "docker.io/library/hello:1"
    assert exported.destination == TransportRef("oci", str(layout), "1")
    assert exported.digest == imported.digest
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1"
    assert entry["digest"] == str(imported.digest)


def test_an_export_refuses_the_store_and_a_missing_image(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    with Session(store) as s:
        import_image(s, f"rootfs:{EXAMPLES / 'hello-rootfs'}", ["hello:1"])
        with pytest.raises(InvalidArgument, match="export needs oci:"):
            export_image(s, "hello:1", "other:1")
        with pytest.raises(NotFound, match="not in the store"):
            export_image(s, "missing:1", f"oci:{tmp_path / 'layout'}")
    assert [r.name for r in store.refs.all()] == ["docker.io/library/hello:1"]
