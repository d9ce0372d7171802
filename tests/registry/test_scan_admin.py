"""The policy, allowlist and scan commands and API routes: who may read and change
what, how bad input is refused, and that the CLI and the API keep the same rules."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from imageforge.registry import RegistryConfig, RegistryState, open_registry
from imageforge.registry.service import OPERATOR
from imageforge.registry.storage import FsBlobStorage
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, serving
from tests.sign.conftest import write_pair


def _cli(state: RegistryState, *args: str) -> tuple[int, str, str]:
    assert isinstance(state.storage, FsBlobStorage)
    data_dir = Path(state.storage.root).parent
    r = run_cli(["registry", *args, "--data-dir", str(data_dir)])
    return r.returncode, r.stdout, r.stderr


def test_policy_and_allowlist_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one backend: the commands call the service the API calls (tested on both)
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    opened = open_registry(RegistryConfig(tmp_path / "data"))
    opened.meta.add_project("team", False)
    pub = write_pair(tmp_path).public
    code, out, err = _cli(
        opened, "project", "policy", "team", "--prevent-vulnerable", "--severity", "HIGH",
        "--require-signature", "--key", str(pub), "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 0, err
    assert (doc["prevent_vulnerable"], doc["severity"], doc["require_signature"]) == (
        True,
        "high",
        True,
    )
    assert doc["keys"] == [pub.read_text()]
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    code, _, err = _cli(opened, "project", "policy", "team", "--key", str(bad))
    assert code != 0 and "not a PEM public key" in err

    code, out, err = _cli(
        opened, "allowlist", "add", "cve-2019-10744", "--project", "team", "--expires",
        "2000-01-01", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["items"] == [
        {
            "cve": "CVE-2019-10744",
            "expires": "2000-01-01T00:00:00Z",
            "expires_at": 946684800.0,
            "active": False,
        }
    ]
    code, _, err = _cli(opened, "allowlist", "rm", "CVE-2019-10744", "--project", "team")
    assert code == 0, err
    assert opened.meta.scans.allowlist("team") == []
    opened.meta.close()


def test_who_may_read_and_change_policies(opened: RegistryState) -> None:
    opened.meta.add_project("team", False)
    opened.manage.add_user(OPERATOR, "dev", "dev-s3cret-pw")
    opened.meta.add_member("team", "dev", "developer")
    with serving(opened) as url:
        admin = ("admin", ADMIN_PASSWORD)
        dev = ("dev", "dev-s3cret-pw")
        policy = f"{url}/api/v1/projects/team/policy"
        assert httpx.get(policy).status_code == 404  # a private project, to strangers
        assert httpx.get(policy, auth=dev).json()["severity"] == "critical"
        r = httpx.put(policy, json={"prevent_vulnerable": True}, auth=dev)
        assert r.status_code == 403
        r = httpx.put(policy, json={"severity": "severe"}, auth=admin)
        assert r.status_code == 400 and "severity" in r.text
        assert httpx.put(policy, json={"refuse_root": True}, auth=admin).json()["refuse_root"]
        system = f"{url}/api/v1/allowlist"
        r = httpx.put(system, json={"items": [{"cve": "CVE-2021-44228"}]}, auth=dev)
        assert r.status_code == 403
        r = httpx.put(system, json={"items": [{"cve": "CVE-2021-44228"}]}, auth=admin)
        assert r.json()["items"][0]["cve"] == "CVE-2021-44228"
        r = httpx.put(system, json={"items": [{"cve": "CVE 1"}]}, auth=admin)
        assert r.status_code == 400 and "CVE 1" in r.text
        scan = f"{url}/api/v1/projects/team/repositories/app/artifacts/sha256:{'0' * 64}/scan"
        assert httpx.get(scan, auth=dev).status_code == 404
    refused = opened.meta.audit(action="manage", result="refused")
    assert any("policy" in row.ref for row in refused)
