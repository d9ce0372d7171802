"""Real clients: skopeo against a server started here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import need_binary
from tests.registry.conftest import ADMIN_PASSWORD, Server, skopeo

CREDS = f"admin:{ADMIN_PASSWORD}"


@pytest.mark.slow
def test_skopeo_push_inspect_list_pull_delete(
    server: Server, hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    dest = f"docker://{server.host}/library/hello"
    skopeo(
        "copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1", dest + ":1"
    )
    skopeo(
        "copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1", dest + ":2"
    )

    info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", CREDS, dest + ":1").stdout)
    assert info["RepoTags"] == ["1", "2"]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", dest + ":1").stdout
    src_index = json.loads((hello_oci / "index.json").read_text())
    assert json.loads(raw)["layers"]  # the manifest we pushed, served back as is
    assert info["Digest"] == src_index["manifests"][0]["digest"]

    tags = json.loads(skopeo("list-tags", "--tls-verify=false", dest).stdout)
    assert tags["Tags"] == ["1", "2"]

    # anonymous pull from the public project library
    skopeo("copy", "--src-tls-verify=false", dest + ":1", f"oci:{tmp_path / 'back'}:1")
    back = json.loads((tmp_path / "back" / "index.json").read_text())
    assert back["manifests"][0]["digest"] == info["Digest"]

    skopeo("delete", "--tls-verify=false", "--creds", CREDS, dest + ":1")
    r = skopeo("inspect", "--tls-verify=false", dest + ":2", check=False)
    assert r.returncode != 0 and "manifest unknown" in r.stderr
    assert json.loads(skopeo("list-tags", "--tls-verify=false", dest).stdout)["Tags"] == []


@pytest.mark.slow
def test_skopeo_push_with_a_wrong_password_is_refused(server: Server, hello_oci: Path) -> None:
    r = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "admin:wrong",
        f"oci:{hello_oci}:1",
        f"docker://{server.host}/library/hello:1",
        check=False,
    )
    assert r.returncode != 0
    assert "unauthorized" in r.stderr.lower() or "401" in r.stderr
    with server.client() as c:
        assert c.get("/v2/library/hello/tags/list").status_code == 404


@pytest.mark.slow
def test_anonymous_skopeo_push_is_refused(server: Server, hello_oci: Path) -> None:
    r = skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{hello_oci}:1",
        f"docker://{server.host}/library/hello:1",
        check=False,
    )
    assert r.returncode != 0
    assert "unauthorized" in r.stderr.lower() or "denied" in r.stderr.lower()
