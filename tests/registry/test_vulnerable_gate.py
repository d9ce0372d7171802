"""The vulnerability pull policy as a gate over stored scan results: the severity
threshold, the project's and the registry's allowlists with their expiry, images not
scanned or whose scan failed, and an index checked through its images."""

from __future__ import annotations

import time

import pytest

from imageforge.errors import Denied
from imageforge.oci import Digest, IndexManifest, Manifest, digest_bytes, media
from imageforge.registry.meta import (
    AllowEntry,
    Finding,
    ManifestRow,
    MetaStore,
    Policy,
    ScanJob,
    ScanResult,
)
from imageforge.registry.policy import GateContext, Gates, SignedGate, VulnerabilityGate
from imageforge.registry.policy._signed import runs_as_root

LODASH = Finding("CVE-2019-10744", "lodash", "4.17.11", "critical", "4.17.12", ("GHSA-jf85",))
REQUESTS = Finding("CVE-2018-18074", "requests", "2.19.1", "high", "2.20.0")


def _store(meta: MetaStore, digest: Digest, result: ScanResult) -> None:
    meta.scans.enqueue("team/app", digest, result.db_version)
    job = meta.scans.claim("t", 60)
    assert isinstance(job, ScanJob) and job.digest == digest
    assert meta.scans.finish(job, "t", result)


STORED: dict[Digest, Manifest | IndexManifest] = {}


def _pull(meta: MetaStore, digest: Digest) -> None:
    gates = Gates()
    gates.register(VulnerabilityGate(meta.scans, STORED.get), on=["pull"])
    gates.check(digest, GateContext("pull", "team/app", "alice", state=meta.view()))


def _descriptor(media_type: str, n: int) -> dict[str, object]:
    return {"mediaType": media_type, "digest": str(digest_bytes(b"%d" % n)), "size": 1}


def _image(meta: MetaStore, n: int, layer: str = media.OCI_LAYER_GZIP) -> Digest:
    """An image manifest (``layer``: of another type, an artifact such as cosign's)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": _descriptor(media.OCI_CONFIG, n),
        "layers": [_descriptor(layer, n)],
    }
    digest = digest_bytes(repr(doc).encode())
    STORED[digest] = Manifest.from_json(doc, validate=False)
    row = ManifestRow("team/app", digest, media.OCI_MANIFEST, 10, media.OCI_CONFIG, None)
    meta.put_manifest(row, [], [], None)
    return digest


def test_findings_at_or_above_the_severity_are_refused_unless_allowlisted(
    meta_db: str,
) -> None:
    with MetaStore(meta_db) as meta:
        image = _image(meta, 1)
        _store(meta, image, ScanResult("success", "v1", (LODASH, REQUESTS)))
        _pull(meta, image)  # no policy: allowed
        meta.scans.set_policy("team", Policy(prevent_vulnerable=True, severity="critical"))
        with pytest.raises(Denied) as refused:
            _pull(meta, image)
        message = refused.value.message
        assert "prevent_vulnerable (severity critical) of project team" in message
        assert "CVE-2019-10744 (critical, lodash 4.17.11)" in message
        assert "CVE-2018-18074" not in message  # high is below critical
        meta.scans.set_allowlist("team", [AllowEntry("CVE-2019-10744")])
        _pull(meta, image)
        # high and above: the requests finding too; a registry-wide entry lets it by
        meta.scans.set_policy("team", Policy(prevent_vulnerable=True, severity="high"))
        with pytest.raises(Denied, match="CVE-2018-18074"):
            _pull(meta, image)
        meta.scans.set_allowlist("", [AllowEntry("CVE-2018-18074")])
        _pull(meta, image)
        # an entry that has expired no longer counts; an alias counts as the id
        meta.scans.set_allowlist("", [AllowEntry("CVE-2018-18074", time.time() - 1)])
        with pytest.raises(Denied, match="CVE-2018-18074"):
            _pull(meta, image)
        meta.scans.set_allowlist("", [AllowEntry("CVE-2018-18074"), AllowEntry("GHSA-jf85")])
        meta.scans.set_allowlist("team", [])
        _pull(meta, image)


def test_an_image_not_scanned_or_whose_scan_failed_is_refused(meta_db: str) -> None:
    with MetaStore(meta_db) as meta:
        meta.scans.set_policy("team", Policy(prevent_vulnerable=True))
        image = _image(meta, 1)
        with pytest.raises(Denied, match="has not been scanned yet") as refused:
            _pull(meta, image)
        assert refused.value.hint is not None and "registry scan start" in refused.value.hint
        _store(meta, image, ScanResult("failed", "v1", message="no vulnerability database"))
        with pytest.raises(Denied, match="failed: no vulnerability database"):
            _pull(meta, image)


def test_an_index_is_checked_through_each_of_its_images(meta_db: str) -> None:
    with MetaStore(meta_db) as meta:
        meta.scans.set_policy("team", Policy(prevent_vulnerable=True))
        clean, vulnerable = _image(meta, 1), _image(meta, 2)
        signature = _image(meta, 3, "application/vnd.dev.cosign.simplesigning.v1+json")
        index = digest_bytes(b"index")
        STORED[index] = IndexManifest.from_json(
            {"schemaVersion": 2, "manifests": [_descriptor(media.OCI_MANIFEST, 0)]},
            validate=False,
        )
        meta.put_manifest(
            ManifestRow("team/app", index, media.OCI_INDEX, 10, None, None),
            [clean, vulnerable, signature],
            [],
            "1",
        )
        _store(meta, clean, ScanResult("success", "v1"))
        with pytest.raises(Denied, match=f"{vulnerable} has not been scanned"):
            _pull(meta, index)
        _store(meta, vulnerable, ScanResult("success", "v1", (LODASH,)))
        with pytest.raises(Denied, match=f"{vulnerable} has 1 vulnerabilities"):
            _pull(meta, index)
        _pull(meta, clean)  # the clean image by digest
        _pull(meta, signature)  # an artifact, never scanned, is no image to hold back
        with pytest.raises(Denied, match="CVE-2019-10744"):
            _pull(meta, vulnerable)  # the child by digest


@pytest.mark.parametrize(
    ("user", "root"),
    [(None, True), ("", True), ("root", True), ("0:0", True), ("root:wheel", True),
     ("1000", False), ("app", False), ("nobody:0", False)],
)  # fmt: skip
def test_who_runs_as_root(user: str | None, root: bool) -> None:
    assert runs_as_root({"config": {"User": user}}) is root


def test_the_pull_gates_read_the_projects_policy_once_per_pull(
    meta_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MetaStore(meta_db) as meta:
        image = _image(meta, 7)
        _store(meta, image, ScanResult("success", "v1", ()))
        meta.scans.set_policy("team", Policy(prevent_vulnerable=True, refuse_root=True))
        reads: list[str] = []
        read = meta.scans.policy

        def counted(project: str) -> Policy:
            reads.append(project)
            return read(project)

        monkeypatch.setattr(meta.scans, "policy", counted)
        gates = Gates()
        gates.register(VulnerabilityGate(meta.scans, STORED.get), on=["pull"])
        user = {"config": {"User": "1000"}}
        signed = SignedGate(meta.scans, None, STORED.get, lambda _: user, lambda _u, _r: False)
        gates.register(signed, on=["pull"])
        gates.check(image, GateContext("pull", "team/app", "alice", state=meta.view()))
        assert reads == ["team"]
