"""The writers: table, imageforge JSON, SPDX 2.3 (validated by spdx-tools) and CycloneDX
1.6 (validated against the schema shipped with cyclonedx-python-lib)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from imageforge.sbom import DirFiles, Sbom, SourceInfo, generate, render, to_json
from tests.sbom.conftest import build_image, dpkg_tree, tree_spec


@pytest.fixture
def image_sbom(tmp_path: Path) -> Sbom:
    image = build_image(tree_spec(dpkg_tree(tmp_path / "root")))
    return generate(image, SourceInfo(kind="image", name="example.org/app:1"))


def _validate_spdx(data: bytes, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(data)
    messages = validate_full_spdx_document(parse_file(str(path)))
    assert messages == []
    doc: dict[str, object] = json.loads(data)
    return doc


def test_spdx_validates_and_describes_the_image(image_sbom: Sbom, tmp_path: Path) -> None:
    doc = _validate_spdx(render(image_sbom, "spdx-json"), tmp_path)
    packages = doc["packages"]
    assert isinstance(packages, list)
    root = packages[0]
    assert root["SPDXID"] == "SPDXRef-Image" and root["versionInfo"] == image_sbom.source.digest
    bash = next(p for p in packages if p["name"] == "bash")
    assert bash["licenseDeclared"] == "GPL-2.0-or-later AND GPL-3.0-only AND GPL-3.0-or-later"
    assert {r["referenceType"] for r in bash["externalRefs"]} == {"purl", "cpe23Type"}
    relationships = doc["relationships"]
    assert isinstance(relationships, list)
    kinds = [r["relationshipType"] for r in relationships]
    assert kinds.count("DESCRIBES") == 1
    assert kinds.count("CONTAINS") == len(image_sbom.packages)
    assert kinds.count("DEPENDS_ON") == len(image_sbom.relationships)
    assert doc["creationInfo"] == {
        "created": "1970-01-01T00:00:00Z",  # the image states no creation time
        "creators": ["Tool: " + f"imageforge-{__import__('imageforge').__version__}"],
        "licenseListVersion": "3.25",
    }


def test_spdx_license_refs_for_names_without_an_spdx_id(tmp_path: Path) -> None:
    root = dpkg_tree(tmp_path / "root")
    copyright = root / "usr/share/doc/bash/copyright"
    copyright.write_text(copyright.read_text() + "\nLicense: permissive\n")
    doc = _validate_spdx(render(generate(DirFiles(root)), "spdx-json"), tmp_path)
    assert doc["hasExtractedLicensingInfos"] == [
        {"licenseId": "LicenseRef-permissive", "name": "permissive", "extractedText": "permissive"}
    ]


def test_source_date_epoch_sets_the_time(
    image_sbom: Sbom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    spdx = json.loads(render(image_sbom, "spdx-json"))
    assert spdx["creationInfo"]["created"] == "2023-11-14T22:13:20Z"
    cdx = json.loads(render(image_sbom, "cyclonedx-json"))
    assert cdx["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")


def test_cyclonedx_validates_against_1_6(image_sbom: Sbom) -> None:
    text = render(image_sbom, "cyclonedx-json").decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    meta = doc["metadata"]["component"]
    assert meta["type"] == "container" and meta["version"] == image_sbom.source.digest
    comps = {c["name"]: c for c in doc["components"]}
    assert comps["debian"]["type"] == "operating-system"
    bash = comps["bash"]
    assert bash["purl"].startswith("pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64")
    props = {p["name"]: p["value"] for p in bash["properties"]}
    assert props["imageforge:package:type"] == "deb"
    assert props["imageforge:location:0:path"] == "/var/lib/dpkg/status"
    assert props["imageforge:location:0:layerID"].startswith("sha256:")
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    ids = {p.name: p.id for p in image_sbom.packages}
    assert deps[ids["bash"]] == {ids["libc6"], ids["base-files"]}
    assert deps["root"] == {"os:debian"} | {p.id for p in image_sbom.packages}


def test_json_and_table(image_sbom: Sbom) -> None:
    doc = to_json(image_sbom)
    assert doc["source"]["name"] == "example.org/app:1"
    assert doc["distro"]["id"] == "debian"
    bash = next(p for p in doc["packages"] if p["name"] == "bash")
    assert bash["files"] == ["/bin", "/bin/bash", "/usr/share/doc/bash/copyright"]
    assert bash["locations"][0]["path"] == "/var/lib/dpkg/status"
    table = render(image_sbom, "table").decode().splitlines()
    assert table[0].split() == ["NAME", "VERSION", "TYPE"]
    assert table[2].split() == ["bash", "5.2.15-2+b2", "deb"]
    assert len(table) == 1 + len(image_sbom.packages)
