"""A project's signature policies with real clients and real signatures: skopeo's pull
of an unsigned image (or one signed with a key the project does not list) is refused
naming the policy, and the image signed by ``imageforge sign`` with the project's key
pulls; a required attestation; images that run as root; a system admin's audited
bypass, which nobody else's header buys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.oci import media
from imageforge.remote import Credentials, save_credentials
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, make_server, skopeo
from tests.sign.conftest import PASSWORD, write_pair

CREDS = f"admin:{ADMIN_PASSWORD}"
ACCEPT = {"Accept": media.OCI_MANIFEST + ", " + media.DOCKER_MANIFEST}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """One server on SQLite: the policies read the metadata as every other pull gate
    does, on both backends (test_vulnerable_gate)."""
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    srv = make_server(tmp_path / "registry")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _pull(server: Server, tmp_path: Path, name: str) -> str:
    """skopeo's pull of ``team/app:1``; its error output ('' when it pulled)."""
    r = skopeo(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        CREDS,
        f"docker://{server.host}/team/app:1",
        f"oci:{tmp_path / name}:1",
        check=False,
    )
    return "" if r.returncode == 0 else r.stderr


def _sign(server: Server, key: Path, *extra: str) -> None:
    r = run_cli(
        ["sign", f"{server.host}/team/app:1", "--key", str(key), "--tls-verify=false", *extra],
        env={"COSIGN_PASSWORD": PASSWORD},
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_unsigned_refused_signed_pulls_and_an_admin_may_bypass(
    server: Server,
    hello_oci: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    save_credentials(server.host, Credentials("admin", ADMIN_PASSWORD), tmp_path / "auth.json")
    ours, theirs = write_pair(tmp_path / "ours"), write_pair(tmp_path / "theirs")
    with server.client() as c:
        assert c.post("/api/v1/projects", json={"name": "team"}).status_code == 201
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1",
               f"docker://{server.host}/team/app:1")  # fmt: skip
        policy = {"require_signature": True, "keys": [ours.public.read_text()]}
        r = c.put("/api/v1/projects/team/policy", json=policy)
        assert r.status_code == 200 and r.json()["require_signature"], r.text

    refused = _pull(server, tmp_path, "unsigned")
    assert "policy require_signature of project team" in refused
    assert "no signature found" in refused
    _sign(server, theirs.private)  # signed, but not with a key the project lists
    assert "signature" in _pull(server, tmp_path, "theirs")
    _sign(server, ours.private)
    assert _pull(server, tmp_path, "signed") == ""

    # a required attestation: refused until the image carries one, signed by our key
    with server.client() as c:
        r = c.put("/api/v1/projects/team/policy", json={"required_attestation": "custom"})
        assert r.status_code == 200, r.text
    assert "policy required_attestation" in _pull(server, tmp_path, "unattested")
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps({"reviewed": True}))
    attested = run_cli(
        ["attest", f"{server.host}/team/app:1", "--predicate", str(predicate), "--type",
         "custom", "--key", str(ours.private), "--tls-verify=false"],
        env={"COSIGN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert attested.returncode == 0, attested.stderr
    assert _pull(server, tmp_path, "attested") == ""

    # the example image sets no user: it runs as root
    with server.client() as c:
        assert c.put("/api/v1/projects/team/policy", json={"refuse_root": True}).is_success
        c.post("/api/v1/users", json={"name": "alice", "password": "alice-s3cret"})
        c.put("/api/v1/projects/team/members/alice", json={"role": "developer"})
    assert "runs as root" in _pull(server, tmp_path, "root")

    # a system admin's bypass passes (and is audited); a developer's header does not
    url = f"{server.url}/v2/team/app/manifests/1"
    bypass = {**ACCEPT, "X-Imageforge-Policy-Bypass": "incident 42"}
    alice = httpx.get(url, headers=bypass, auth=("alice", "alice-s3cret"))
    assert alice.status_code == 403 and "runs as root" in alice.text
    assert httpx.get(url, headers=bypass, auth=("admin", ADMIN_PASSWORD)).status_code == 200
    audited = server.meta().audit(repo="team/app", result="bypass")
    assert audited and audited[0].user == "admin"
    assert "refuse_root" in audited[0].detail and "incident 42" in audited[0].detail
