"""Signatures, attestations and OCI 1.1 artifacts are images' neighbours in the store:
their layers are plain blobs (kept verified by digest, never unpacked), and nothing
runs, builds on or analyzes them as if they had a filesystem."""

from __future__ import annotations

import io
import json
from pathlib import Path

from imageforge.layers import BlobImage
from imageforge.oci import Descriptor, Manifest, digest_bytes, media
from imageforge.sign import Envelope, SignedLayer, attestation_layer, signature_manifest
from imageforge.transports import write_image
from tests.conftest import run_cli


def _layout_with(tmp_path: Path, image: BlobImage, tag: str) -> Path:
    layout = tmp_path / "layout"
    write_image(image, f"oci:{layout}:{tag}")
    return layout


def _signature_image() -> tuple[BlobImage, bytes]:
    payload = b'{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}'
    envelope = Envelope("application/vnd.in-toto+json", b"{}", ())
    obj = signature_manifest(
        [SignedLayer(payload, "c2lnbmF0dXJl"), attestation_layer(envelope, "https://x/y")]
    )
    blobs = obj.blobs
    return BlobImage(lambda d: io.BytesIO(blobs[d]), obj.manifest_bytes), payload


def test_a_signature_manifest_is_stored_and_never_run_or_analyzed(tmp_path: Path) -> None:
    image, payload = _signature_image()
    layout = _layout_with(tmp_path, image, "sig")
    root = ["--root", str(tmp_path / "root")]
    r = run_cli([*root, "import", f"oci:{layout}:sig", "-t", "example.com/app:sig"])
    assert r.returncode == 0, r.stderr
    blob = tmp_path / "root" / "blobs" / "sha256" / digest_bytes(payload).hex
    assert blob.read_bytes() == payload  # kept as it is, not unpacked
    for command in (["analyze"], ["run"], ["sbom"]):
        r = run_cli([*root, *command, "example.com/app:sig"])
        assert r.returncode != 0
        assert "not an image with a filesystem" in r.stderr, r.stderr
        assert "simplesigning" in r.stderr


def test_an_oci_artifact_with_an_empty_config_is_stored(tmp_path: Path) -> None:
    data = b"an SBOM, say"
    manifest = Manifest(
        config=Descriptor(media.OCI_EMPTY, digest_bytes(b"{}"), 2),
        layers=(Descriptor("application/spdx+json", digest_bytes(data), len(data)),),
        media_type=media.OCI_MANIFEST,
        artifact_type="application/spdx+json",
    )
    blobs = {digest_bytes(b"{}"): b"{}", digest_bytes(data): data}
    layout = _layout_with(
        tmp_path, BlobImage(lambda d: io.BytesIO(blobs[d]), manifest.to_bytes()), "sbom"
    )
    root = ["--root", str(tmp_path / "root")]
    r = run_cli([*root, "import", f"oci:{layout}:sbom", "-t", "example.com/app:sbom"])
    assert r.returncode == 0, r.stderr
    r = run_cli([*root, "analyze", "example.com/app:sbom"])
    assert r.returncode != 0 and "artifact (application/spdx+json)" in r.stderr, r.stderr


def test_a_tampered_signature_blob_is_refused_and_nothing_named(tmp_path: Path) -> None:
    image, payload = _signature_image()
    layout = _layout_with(tmp_path, image, "sig")
    blob = layout / "blobs" / "sha256" / digest_bytes(payload).hex
    blob.write_bytes(payload.replace(b"00", b"01"))
    root = ["--root", str(tmp_path / "root")]
    r = run_cli([*root, "import", f"oci:{layout}:sig", "-t", "example.com/app:sig"])
    assert r.returncode != 0
    assert "digest" in r.stderr.lower(), r.stderr
    r = run_cli([*root, "images", "--format", "json"])
    assert "example.com/app" not in r.stdout
    assert json.loads(r.stdout or "[]") == []
