"""One real registry for the UI tests (``imageforge registry serve`` scanning against
the scan-on-push tests' vulnerability data), with what the pages show: a private
project ``team`` that scans on push, the vulnerable lodash image pushed to
``team/app:1`` (scanned), a variant whose labels hold HTML, a CycloneDX SBOM attached to
the image as a referrer with a package description holding HTML (and an SPDX SBOM
attested to the variant by ``imageforge attest``), SLSA provenance attested to both
(the image's signed with the key ``team`` lists, a build argument holding HTML; the
variant's with another key), and users of each kind: ``viewer`` (guest of ``team``)
and ``outsider`` (no role anywhere)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from imageforge.oci import Digest
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, make_server
from tests.registry.scan_fixtures import lodash_layout, vuln_root
from tests.registry.test_scan_on_push import CONFIG, _push, _scan
from tests.sign.conftest import PASSWORD as SIGN_PASSWORD
from tests.sign.conftest import KeyPair, write_pair

PASSWORD = "user-s3cret-pw"
HOSTILE_LABEL = "<script>document.title='pwned'</script>"
HOSTILE_IMG = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_DESCRIPTION = "<img src=x onerror=\"document.title='pwned'\"><b>bold</b>"
BASE_HEX = "e7" * 32  # the base image's digest in the provenance


@dataclass
class UiRegistry:
    server: Server
    image: Digest  # team/app:1, scanned, with the SBOM attached
    hostile: Digest  # team/app:hostile (and :old), labels holding HTML

    @property
    def url(self) -> str:
        return self.server.url


def _with_labels(layout: Path, dest: Path, labels: dict[str, str]) -> Path:
    """A copy of ``layout`` whose image config has ``labels``."""
    shutil.copytree(layout, dest)
    blobs = dest / "blobs" / "sha256"

    def put(doc: object) -> dict[str, object]:
        data = json.dumps(doc).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    index = json.loads((dest / "index.json").read_text())
    top = index["manifests"][0]
    manifest = json.loads((blobs / top["digest"][7:]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"][7:]).read_bytes())
    config["config"] = {**(config.get("config") or {}), "Labels": labels}
    manifest["config"] = {**manifest["config"], **put(config)}
    index["manifests"][0] = {**top, **put(manifest)}
    (dest / "index.json").write_text(json.dumps(index))
    return dest


def _upload(c: httpx.Client, repo: str, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = c.post(f"/v2/{repo}/blobs/uploads/")
    assert start.status_code == 202, start.text
    done = c.put(start.headers["location"], params={"digest": digest}, content=data)
    assert done.status_code == 201, done.text
    return {"digest": digest, "size": len(data)}


def _attach_sbom(srv: Server, repo: str, subject: Digest) -> None:
    """A CycloneDX SBOM attached to ``subject`` as an OCI 1.1 referrer."""
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {
                "type": "library",
                "name": "lodash",
                "version": "4.17.11",
                "purl": "pkg:npm/lodash@4.17.11",
                "description": HOSTILE_DESCRIPTION,
            },
            {"type": "library", "name": "left-pad", "version": "1.3.0"},
        ],
    }
    with srv.client() as c:
        subject_body = c.get(
            f"/v2/{repo}/manifests/{subject}",
            headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        empty = _upload(c, repo, b"{}")
        layer = _upload(c, repo, json.dumps(sbom).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.cyclonedx+json",
            "config": {**empty, "mediaType": "application/vnd.oci.empty.v1+json"},
            "layers": [{**layer, "mediaType": "application/vnd.cyclonedx+json"}],
            "subject": {
                "mediaType": subject_body.headers["content-type"],
                "digest": str(subject),
                "size": len(subject_body.content),
            },
        }
        body = json.dumps(manifest).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        r = c.put(
            f"/v2/{repo}/manifests/{digest}",
            content=body,
            headers={"content-type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.status_code == 201, r.text


def _attest(srv: Server, ref: str, work: Path, keys: KeyPair, kind: str, doc: object) -> None:
    """``doc`` attested to ``ref`` by ``imageforge attest --type kind`` (a DSSE envelope
    under cosign's ``.att`` tag), signed with ``keys``."""
    auth = work / "auth.json"
    creds = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    auth.write_text(json.dumps({"auths": {srv.host: {"auth": creds}}}))
    predicate = work / f"{kind}.json"
    predicate.write_text(json.dumps(doc))
    args = ["attest", f"docker://{srv.host}/{ref}", "--predicate", str(predicate)]
    args += ["--type", kind, "--key", str(keys.private), "--tls-verify=false"]
    r = run_cli([*args, "--authfile", str(auth)], env={"COSIGN_PASSWORD": SIGN_PASSWORD})
    assert r.returncode == 0, r.stderr


def _spdx() -> dict[str, object]:
    """An SPDX SBOM whose one package's description holds HTML."""
    return {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "hostile",
        "packages": [
            {
                "SPDXID": "SPDXRef-busybox",
                "name": "busybox",
                "versionInfo": "1.36.1",
                "description": HOSTILE_DESCRIPTION,
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": "pkg:generic/busybox@1.36.1",
                    }
                ],
            }
        ],
    }


def provenance(base: str, note: str) -> dict[str, object]:
    """A SLSA provenance v1 predicate as ``build --provenance`` writes it, built on
    ``base`` with the build argument NOTE=``note``."""
    return {
        "buildDefinition": {
            "buildType": "https://imageforge.dev/buildtypes/dockerfile/v1",
            "externalParameters": {
                "dockerfile": "Dockerfile",
                "buildArgs": {"NOTE": note, "VERSION": "4.17.11"},
                "platforms": ["linux/amd64"],
            },
            "internalParameters": {"network": "none", "noCache": False},
            "resolvedDependencies": [
                {"name": "dockerfile", "uri": "file:Dockerfile", "digest": {"sha256": "ab" * 32}},
                {"name": "context", "uri": "file:.", "digest": {"sha256": "cd" * 32}},
                {"name": base, "uri": f"pkg:docker/{base}", "digest": {"sha256": BASE_HEX}},
            ],
        },
        "runDetails": {
            "builder": {"id": "https://imageforge.dev/builder", "version": {"imageforge": "1.0"}},
            "metadata": {
                "startedOn": "2026-12-01T10:00:00Z",
                "finishedOn": "2026-12-01T10:01:00Z",
            },
        },
    }


def _retag(srv: Server, repo: str, digest: Digest, tag: str) -> None:
    with srv.client() as c:
        got = c.get(
            f"/v2/{repo}/manifests/{digest}",
            headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        r = c.put(
            f"/v2/{repo}/manifests/{tag}",
            content=got.content,
            headers={"content-type": got.headers["content-type"]},
        )
        assert r.status_code == 201, r.text


@pytest.fixture(scope="session")
def ui_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiRegistry]:
    root = vuln_root(tmp_path_factory.mktemp("ui-scan-root"))
    work = tmp_path_factory.mktemp("ui-images")
    layout = lodash_layout(work, root, "4.17.11")
    hostile = _with_labels(
        layout,
        work / "hostile",
        {"org.example.note": HOSTILE_LABEL, "org.example.img": HOSTILE_IMG},
    )
    srv = make_server(tmp_path_factory.mktemp("ui-registry"), CONFIG)
    srv.root, srv.db = root, None
    srv.start()
    try:
        with srv.client() as c:
            for r in (
                c.post("/api/v1/projects", json={"name": "team"}),
                c.put("/api/v1/projects/team/policy", json={"scan_on_push": True}),
                c.post("/api/v1/users", json={"name": "viewer", "password": PASSWORD}),
                c.post("/api/v1/users", json={"name": "outsider", "password": PASSWORD}),
                c.put("/api/v1/projects/team/members/viewer", json={"role": "guest"}),
            ):
                assert r.status_code < 300, r.text
        image = _push(srv, layout, "team/app:1")
        hostile_digest = _push(srv, hostile, "team/app:hostile")
        _retag(srv, "team/app", hostile_digest, "old")
        _attach_sbom(srv, "team/app", image)
        # the project's key signs team/app:1's provenance; another key :hostile's
        project_key, stranger = write_pair(work / "keys"), write_pair(work / "stranger")
        with srv.client() as c:
            keys = {"keys": [project_key.public.read_text()]}
            assert c.put("/api/v1/projects/team/policy", json=keys).status_code == 200
        _attest(srv, "team/app:hostile", work, stranger, "spdx", _spdx())
        _attest(
            srv,
            "team/app:1",
            work,
            project_key,
            "slsaprovenance1",
            provenance("alpine:3.20", HOSTILE_LABEL),
        )
        _attest(
            srv,
            "team/app:hostile",
            work,
            stranger,
            "slsaprovenance1",
            provenance("alpine:3.19", "plain"),
        )
        _scan(srv, "team/app", image)
        yield UiRegistry(srv, image, hostile_digest)
    finally:
        srv.stop()


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


@contextmanager
def logged_in(url: str, user: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a UI session of ``user`` (logged in through the form)."""
    with httpx.Client(base_url=url, timeout=60) as c:
        token = csrf_of(c.get("/ui/login").text)
        r = c.post("/ui/login", data={"username": user, "password": password, "csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/ui/projects", r.text
        yield c


def push_artifact(c: httpx.Client, repo: str, tags: list[str], note: str) -> str:
    """A small OCI artifact (an empty config, one layer holding ``note``) pushed to
    ``repo`` under ``tags`` by the registry client ``c``; its digest."""
    config = _upload(c, repo, b"{}")
    layer = _upload(c, repo, note.encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.note",
        "config": {**config, "mediaType": "application/vnd.oci.empty.v1+json"},
        "layers": [{**layer, "mediaType": "text/plain"}],
    }
    body = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    for ref in tags:
        r = c.put(
            f"/v2/{repo}/manifests/{ref}",
            content=body,
            headers={"content-type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.status_code == 201, r.text
    return digest
