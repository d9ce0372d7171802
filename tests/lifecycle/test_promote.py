"""ship into dev, then dev -> test -> prod on three real imageforge registries on
loopback: prod wants a
signature, an SBOM, provenance from a trusted builder and no HIGH/CRITICAL finding; a
promotion a gate refuses is named; the prod copy verifies and keeps its attestations;
retire archives and deletes it, and the archive imports back with the same digest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.remote import Credentials, save_credentials
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, make_server
from tests.registry.scan_fixtures import CVE, vuln_root
from tests.remote.conftest import authfile as authfile
from tests.remote.conftest import make_index_layout, ok
from tests.sign.conftest import PASSWORD, KeyPair, write_pair

ENV = {"COSIGN_PASSWORD": PASSWORD}
BUILDER = "https://imageforge.dev/builder"  # what build --provenance names
NO_TLS = "--tls-verify=false"


@pytest.fixture
def three(
    tmp_path: Path, authfile: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Server]]:
    """dev, test and prod: imageforge registries (SQLite), admin logged in to each."""
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    servers = [make_server(tmp_path / name) for name in ("dev", "test", "prod")]
    try:
        for srv in servers:
            srv.start()
            save_credentials(srv.host, Credentials("admin", ADMIN_PASSWORD), authfile)
        yield servers
    finally:
        for srv in servers:
            srv.stop()


def _policy(path: Path, hosts: list[str], keys: KeyPair) -> Path:
    dev, test, prod = hosts
    path.write_text(
        f"""
[environments.dev]
registry = "{dev}"
project = "library"

[environments.test]
registry = "{test}"
project = "library"
signatures = ["{keys.public}"]
max-size = "50MB"

[environments.prod]
registry = "{prod}"
project = "library"
signatures = ["{keys.public}"]
sbom = true
trusted-builder = "{BUILDER}"
severity = ["CRITICAL", "HIGH"]
non-root = false
max-size = "50MB"
"""
    )
    return path


@pytest.mark.slow
def test_dev_to_prod_then_retired(tmp_path: Path, three: list[Server]) -> None:
    root = vuln_root(tmp_path / "root")
    keys = write_pair(tmp_path / "keys")
    hosts = [s.host for s in three]
    policy = _policy(tmp_path / "imageforge.toml", hosts, keys)

    def cli(*args: str) -> list[str]:
        return ["--root", str(root), *args]

    digests = {}
    for name, version in (("good", "4.17.12"), ("bad", "4.17.11")):
        # shipped into dev: built, signed, SBOM and provenance attested, pushed
        context = tmp_path / name
        package = context / "usr" / "lib" / "node_modules" / "lodash" / "package.json"
        package.parent.mkdir(parents=True)
        package.write_text(json.dumps({"name": "lodash", "version": version}))
        (context / "Dockerfile").write_text("FROM scratch\nCOPY usr /usr\nUSER 1000\n")
        ok(
            run_cli(
                cli(
                    "ship",
                    str(context),
                    "-t",
                    f"app:{name}",
                    "--config",
                    str(policy),
                    "--key",
                    str(keys.private),
                    NO_TLS,
                ),
                env=ENV,
            )
        )
        # dev -> test: by the short name, found in dev (the environment before test)
        r = ok(
            run_cli(
                cli(
                    "promote",
                    f"app:{name}",
                    "--to",
                    "test",
                    "--config",
                    str(policy),
                    "--key",
                    str(keys.private),
                    "--offline",
                    "--format",
                    "json",
                    NO_TLS,
                ),
                env=ENV,
            )
        )
        done = json.loads(r.stdout)
        assert done["from"] == "dev" and done["to"] == "test" and done["attested"]
        assert done["destination"].startswith(f"{hosts[1]}/library/app@sha256:")
        digests[name] = done["digest"]

    # an index: every image's gates checked, every image copied, the signature along
    layout = tmp_path / "good-layout"
    ok(run_cli(cli("export", f"{hosts[0]}/library/app:good", f"oci:{layout}:1")))
    children = make_index_layout(layout, tmp_path / "index-layout")
    multi = f"{hosts[0]}/library/multi:1"
    ok(
        run_cli(
            cli(
                "copy",
                "--all",
                f"oci:{tmp_path / 'index-layout'}:multi",
                f"docker://{multi}",
                NO_TLS,
            )
        )
    )
    ok(run_cli(cli("sign", multi, "--key", str(keys.private), NO_TLS), env=ENV))
    r = ok(
        run_cli(
            cli(
                "promote",
                multi,
                "--to",
                "test",
                "--config",
                str(policy),
                "--format",
                "json",
                NO_TLS,
            )
        )
    )
    gates = json.loads(r.stdout)["gates"]
    images = {children["linux/amd64"], children["linux/arm64/v8"]}
    assert {g["image"] for g in gates if g["gate"] == "max-size"} == images
    with httpx.Client(auth=("admin", ADMIN_PASSWORD)) as http:
        for digest in images:
            got = http.get(f"http://{hosts[1]}/v2/library/multi/manifests/{digest}")
            assert got.status_code == 200
    ok(run_cli(cli("verify", f"{hosts[1]}/library/multi:1", "--key", str(keys.public), NO_TLS)))

    # test -> prod: the vulnerable image is refused, naming the gate and the finding
    r = run_cli(
        cli(
            "promote",
            f"{hosts[1]}/library/app:bad",
            "--to",
            "prod",
            "--config",
            str(policy),
            "--offline",
            NO_TLS,
        )
    )
    assert r.returncode == 1, r.stderr
    assert "gate(s) failed: vulnerabilities" in r.stderr and CVE in r.stderr
    assert f"FAIL vulnerabilities {digests['bad']}" in r.stdout
    assert "pass signature" in r.stdout  # every gate is reported, not only the first
    with httpx.Client(auth=("admin", ADMIN_PASSWORD)) as http:
        missing = http.get(f"http://{hosts[2]}/v2/library/app/manifests/bad")
    assert missing.status_code == 404  # nothing was written to prod

    r = ok(
        run_cli(
            cli(
                "promote",
                f"{hosts[1]}/library/app:good",
                "--to",
                "prod",
                "--config",
                str(policy),
                "--key",
                str(keys.private),
                "--offline",
                NO_TLS,
            ),
            env=ENV,
        )
    )
    assert f"-> {hosts[2]}/library/app:good ({digests['good']})" in r.stdout
    prod_ref = f"{hosts[2]}/library/app:good"
    ok(run_cli(cli("verify", prod_ref, "--key", str(keys.public), NO_TLS)))
    for kind in ("spdx", "slsaprovenance1", "https://imageforge.dev/attestations/promotion/v1"):
        r = ok(
            run_cli(
                cli(
                    "verify-attestation",
                    prod_ref,
                    "--type",
                    kind,
                    "--key",
                    str(keys.public),
                    "--format",
                    "json",
                    NO_TLS,
                )
            )
        )
    # the promotion records travel with the image: its whole history is in prod
    records = [a["statement"]["predicate"] for a in json.loads(r.stdout)["attestations"]]
    hops = {(p["from"]["environment"], p["to"]["environment"]): p for p in records}
    assert set(hops) == {("dev", "test"), ("test", "prod")}
    record = hops[("test", "prod")]
    assert {g["gate"] for g in record["gates"]} >= {"signature", "sbom", "vulnerabilities"}

    # retire: archived with its referrers, deleted at prod, restorable by digest
    archive = tmp_path / "app-good.tar"
    r = ok(
        run_cli(
            cli(
                "retire",
                f"docker://{prod_ref}",
                "--archive",
                f"oci-archive:{archive}",
                "--dry-run",
                NO_TLS,
            )
        )
    )
    assert "would delete" in r.stdout and not archive.exists()
    ok(
        run_cli(
            cli("retire", f"docker://{prod_ref}", "--archive", f"oci-archive:{archive}", NO_TLS)
        )
    )
    with httpx.Client(auth=("admin", ADMIN_PASSWORD)) as http:
        gone = http.get(f"http://{hosts[2]}/v2/library/app/manifests/{digests['good']}")
    assert gone.status_code == 404
    r = ok(
        run_cli(
            cli("import", f"oci-archive:{archive}:good", "-t", "restored:1", "--format", "json")
        )
    )
    assert json.loads(r.stdout)["digest"] == digests["good"]
    ok(run_cli(cli("verify", "restored:1", "--local", "--key", str(keys.public))))


def test_an_environment_that_does_not_answer(tmp_path: Path) -> None:
    keys = write_pair(tmp_path / "keys")
    policy = _policy(
        tmp_path / "imageforge.toml", ["127.0.0.1:9", "127.0.0.1:9", "127.0.0.1:9"], keys
    )
    r = run_cli(
        [
            "--root",
            str(tmp_path / "root"),
            "promote",
            "app:1",
            "--to",
            "test",
            "--config",
            str(policy),
            NO_TLS,
        ]
    )
    assert r.returncode == 10, r.stderr
    assert "environment dev (127.0.0.1:9) does not answer" in r.stderr


def test_promote_without_environments_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "imageforge.toml"
    policy.write_text("[lint]\n")
    r = run_cli(
        [
            "--root",
            str(tmp_path / "root"),
            "promote",
            "app:1",
            "--to",
            "prod",
            "--config",
            str(policy),
        ]
    )
    assert r.returncode == 2
    assert "no [environments]" in r.stderr
