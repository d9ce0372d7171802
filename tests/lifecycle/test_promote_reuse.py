"""``promote`` reuses the vulnerability gate's stored result for the same digest while
the database is the same one: a second promotion does not scan, an import into the
database (a new database file) makes the next one scan again, and ``--rescan`` scans
whatever is stored. On one real imageforge registry, dev and prod as two projects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.remote import Credentials, save_credentials
from imageforge.vuln import import_source
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.registry.scan_fixtures import lodash_layout, vuln_root
from tests.remote.conftest import authfile as authfile
from tests.remote.conftest import ok
from tests.remote.conftest import ours as ours
from tests.vuln.conftest import DATA as VULN_DATA

NO_TLS = "--tls-verify=false"


def _vuln_gate(stdout: str) -> dict[str, object]:
    gates = json.loads(stdout)["gates"]
    (gate,) = [g for g in gates if g["gate"] == "vulnerabilities"]
    assert isinstance(gate, dict)
    return gate


@pytest.mark.slow
def test_promote_reuses_the_stored_scan_until_the_database_changes(
    tmp_path: Path, ours: Server, authfile: Path
) -> None:
    save_credentials(ours.host, Credentials("admin", ADMIN_PASSWORD), authfile)
    with ours.client() as admin:
        assert admin.post("/api/v1/projects", json={"name": "prod"}).status_code == 201
    root = vuln_root(tmp_path / "root")
    layout = lodash_layout(tmp_path, root, "4.17.12")
    cli = ["--root", str(root)]
    ok(run_cli([*cli, "copy", f"oci:{layout}:1", f"docker://{ours.host}/library/app:1", NO_TLS]))
    policy = tmp_path / "imageforge.toml"
    policy.write_text(
        f'[environments.dev]\nregistry = "{ours.host}"\nproject = "library"\n\n'
        f'[environments.prod]\nregistry = "{ours.host}"\nproject = "prod"\n'
        'severity = ["CRITICAL", "HIGH"]\n'
    )
    promote = [*cli, "promote", "app:1", "--to", "prod", "--config", str(policy), "--offline"]
    promote += ["--format", "json", NO_TLS]

    first = _vuln_gate(ok(run_cli(promote)).stdout)
    assert first["passed"] and first["reused"] is False
    assert str(first["detail"]).endswith("; scanned")

    second = _vuln_gate(ok(run_cli(promote)).stdout)
    assert second["reused"] is True and second["passed"]
    assert "stored result of this database reused" in str(second["detail"])

    text = ok(run_cli([a for a in promote if a not in ("--format", "json")])).stdout
    assert "pass vulnerabilities" in text and "reused" in text

    assert _vuln_gate(ok(run_cli([*promote, "--rescan"])).stdout)["reused"] is False

    # the database replaced (an import writes a new file): the gate scans again
    import_source(root, f"osv:{VULN_DATA / 'osv'}", lambda _: None)
    again = _vuln_gate(ok(run_cli(promote)).stdout)
    assert again["reused"] is False and again["passed"]
