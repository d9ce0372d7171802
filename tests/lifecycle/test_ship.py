"""``ship``: a context through every stage into the first environment (a real
imageforge registry on loopback), signed with SBOM and provenance; a stage whose gate
fails stops it with that stage's exit code and nothing is pushed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from imageforge.remote import Credentials, save_credentials
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.remote.conftest import authfile as authfile
from tests.remote.conftest import ok
from tests.remote.conftest import ours as ours
from tests.sign.conftest import PASSWORD, write_pair

NO_TLS = "--tls-verify=false"


@pytest.mark.slow
def test_ship_into_dev_and_a_failing_gate_stops_it(
    tmp_path: Path, ours: Server, authfile: Path
) -> None:
    save_credentials(ours.host, Credentials("admin", ADMIN_PASSWORD), authfile)
    keys = write_pair(tmp_path / "keys")
    context = tmp_path / "app"
    context.mkdir()
    (context / "hello.txt").write_text("hello\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\nUSER 1000\n")
    (context / "imageforge.toml").write_text(
        f'[environments.dev]\nregistry = "{ours.host}"\nproject = "library"\n'
        f'signatures = ["{keys.public}"]\nsbom = true\nnon-root = true\n'
        f'lint-threshold = "error"\n'
    )
    root = tmp_path / "root"
    env = {"COSIGN_PASSWORD": PASSWORD}
    base = ["--root", str(root), "ship", str(context), "--key", str(keys.private), NO_TLS]
    r = ok(run_cli([*base, "-t", "app:1", "--format", "json"], env=env))
    report = json.loads(r.stdout)
    assert report["shipped"] and report["exitCode"] == 0
    assert [s["status"] for s in report["stages"]] == ["passed"] * 3 + ["passed", "skipped"] + [
        "passed"
    ] * 3
    ref = f"{ours.host}/library/app:1"
    assert report["destination"] == f"{ours.host}/library/app@{report['digest']}"
    ok(run_cli(["--root", str(root), "verify", ref, "--key", str(keys.public), NO_TLS]))
    for kind in ("spdx", "slsaprovenance1"):
        ok(
            run_cli(
                [
                    "--root",
                    str(root),
                    "verify-attestation",
                    ref,
                    "--type",
                    kind,
                    "--key",
                    str(keys.public),
                    NO_TLS,
                ]
            )
        )

    # runs as root: the analyze stage's non-root gate stops it, before anything is pushed
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    page = tmp_path / "report.html"
    r = run_cli([*base, "-t", "app:<2>", "--report-html", str(page)], env=env)
    assert r.returncode == 2, r.stderr  # <2> is no tag
    r = run_cli([*base, "-t", "app:2", "--report-html", str(page)], env=env)
    assert r.returncode == 22, r.stderr
    assert "ship stopped at analyze: non-root: runs as root (no USER)" in r.stderr
    assert "analyze: failed" in r.stdout and "push: skipped" in r.stdout
    html = page.read_text()
    assert "<td>analyze</td><td>failed</td>" in html and "<script" not in html
    with httpx.Client(auth=("admin", ADMIN_PASSWORD)) as http:
        assert http.get(f"http://{ours.host}/v2/library/app/manifests/2").status_code == 404
