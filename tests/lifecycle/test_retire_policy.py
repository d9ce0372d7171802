"""``retire --policy REGISTRY/PROJECT``: a real imageforge registry's retention rules
(keep the latest pushed) pick what goes; ``--dry-run`` lists it and deletes nothing; the
real run archives each image before deleting it, keeps what the rules retain, and the
archive imports back with the same digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.remote import Credentials, save_credentials
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.registry.conftest import hello_oci as hello_oci
from tests.registry.scan_fixtures import variant
from tests.remote.conftest import authfile as authfile
from tests.remote.conftest import ok
from tests.remote.conftest import ours as ours

NO_TLS = "--tls-verify=false"


@pytest.mark.slow
def test_retire_by_the_projects_retention_rules(
    tmp_path: Path, ours: Server, authfile: Path, hello_oci: Path
) -> None:
    save_credentials(ours.host, Credentials("admin", ADMIN_PASSWORD), authfile)
    root = tmp_path / "root"
    cli = ["--root", str(root)]
    digests = {}
    for n in (1, 2):  # app:1 pushed first, so the older
        layout = variant(hello_oci, tmp_path / f"v{n}", n)
        dest = f"docker://{ours.host}/library/app:{n}"
        ok(run_cli([*cli, "copy", f"oci:{layout}:1", dest, NO_TLS]))
        digests[n] = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    with ours.client() as admin:
        rules = {"rules": [{"keep": "latest_pushed", "count": 1}], "gc_grace": 0}
        put = admin.put("/api/v1/projects/library/retention", json=rules)
        assert put.status_code == 200, put.text
    retire = [*cli, "retire", "--policy", f"{ours.host}/library", NO_TLS]

    r = ok(run_cli([*retire, "--dry-run", "--format", "json"]))
    plan = json.loads(r.stdout)
    assert plan["dryRun"] and plan["retained"] == 1
    assert [(x["digest"], x["tags"]) for x in plan["retired"]] == [(digests[1], ["1"])]
    with ours.client() as admin:
        assert admin.get(f"/v2/library/app/manifests/{digests[1]}").status_code == 200

    archives = tmp_path / "archives"
    r = ok(run_cli([*retire, "--archive-dir", str(archives)]))
    assert "retired 1 image(s), 1 retained by the rules" in r.stdout
    with ours.client() as admin:
        assert admin.get(f"/v2/library/app/manifests/{digests[1]}").status_code == 404
        assert admin.get("/v2/library/app/manifests/2").status_code == 200
    (archive,) = archives.iterdir()
    r = ok(run_cli([*cli, "import", f"oci-archive:{archive}", "-t", "app:1", "--format", "json"]))
    assert json.loads(r.stdout)["digest"] == digests[1]


def test_retire_policy_wants_a_project(tmp_path: Path) -> None:
    r = run_cli(["--root", str(tmp_path), "retire", "--policy", "127.0.0.1:1/library/app:1"])
    assert r.returncode == 2 and "REGISTRY/PROJECT" in r.stderr
