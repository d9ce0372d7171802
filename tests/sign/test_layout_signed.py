"""Signatures with no registry at all: an image signed and attested in the store is
exported with them as the layout's referrers (OCI image-layout 1.1), which skopeo reads
around and keeps, and an import of the layout or the archive keeps them verifiable."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from imageforge.oci import Manifest
from tests.conftest import need_binary, run_cli
from tests.remote.conftest import ok
from tests.sign.conftest import PASSWORD, KeyPair

ENV = {"COSIGN_PASSWORD": PASSWORD}


def _cli(root: Path, *args: str) -> str:
    return ok(run_cli(["--root", str(root), *args], env=ENV)).stdout


def _verifies(root: Path, name: str, keys: KeyPair) -> None:
    _cli(root, "verify", "--local", name, "--key", str(keys.public))
    _cli(root, "verify-attestation", "--local", name, "--key", str(keys.public), "--type", "vuln")


@pytest.mark.slow
def test_an_exported_layout_carries_the_referrers_and_an_import_keeps_them(
    images_root: Path, keys: KeyPair, tmp_path: Path
) -> None:
    skopeo = need_binary("skopeo")
    root = images_root
    predicate = tmp_path / "vuln.json"
    predicate.write_text('{"scanner": {}}')
    signed = json.loads(
        _cli(root, "sign", "--local", "hello:1", "--key", str(keys.private), "--format", "json")
    )
    digest = signed["digest"]
    assert signed["tag"].endswith(".sig")  # cosign's legacy tag, in the store
    _cli(
        root,
        "attest",
        "--local",
        "hello:1",
        "--key",
        str(keys.private),
        "--predicate",
        str(predicate),
        "--type",
        "vuln",
        "--registry-referrers-mode",
        "oci-1-1",
    )
    listed = {i["name"] for i in json.loads(_cli(root, "images", "--format", "json"))}
    assert listed == {"docker.io/library/hello:1", "docker.io/library/hello:2"}
    referrers = run_cli(["--root", str(root), "analyze", f"hello:{digest.replace(':', '-')}"])
    assert referrers.returncode == 2, referrers.stderr
    assert "artifact (an index of application/vnd.dev.cosign.artifact.att" in referrers.stderr

    layout = tmp_path / "layout"
    _cli(root, "export", "hello:1", f"oci:{layout}:1")
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    artifacts = sorted(e["artifactType"] for e in entries if "artifactType" in e)
    assert artifacts == [
        "application/vnd.dev.cosign.artifact.att.v1+json",
        "application/vnd.dev.cosign.artifact.sig.v1+json",
    ]
    for entry in entries:
        if "artifactType" in entry:
            raw = (layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes()
            subject = Manifest.parse(raw).subject
            assert subject is not None and str(subject.digest) == digest

    # skopeo reads the image among the referrers, and writing into the layout keeps them
    inspected = json.loads(
        subprocess.run(
            [skopeo, "inspect", f"oci:{layout}:1"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert inspected["Digest"] == digest
    subprocess.run(
        [skopeo, "copy", "--all", f"oci:{layout}:1", f"oci:{layout}:again"],
        capture_output=True,
        check=True,
    )
    after = json.loads((layout / "index.json").read_text())["manifests"]
    assert sum("artifactType" in e for e in after) == 2

    from_layout = tmp_path / "from-layout"
    _cli(from_layout, "import", f"oci:{layout}:again", "-t", "example.com/app:1")
    _verifies(from_layout, "example.com/app:1", keys)

    archive = tmp_path / "app.tar"
    _cli(root, "export", "hello:1", f"oci-archive:{archive}:1")
    from_archive = tmp_path / "from-archive"
    _cli(from_archive, "import", f"oci-archive:{archive}:1", "-t", "example.com/app:1")
    _verifies(from_archive, "example.com/app:1", keys)

    # and without them when asked
    bare = tmp_path / "bare"
    _cli(root, "export", "hello:1", f"oci:{bare}:1", "--remove-signatures")
    assert len(json.loads((bare / "index.json").read_text())["manifests"]) == 1
