"""``cli/`` holds no logic a library user needs: build, push, pull, run, copy and sbom
through ``imageforge.pipeline`` and ``imageforge.runtime`` in an interpreter that never
imports ``imageforge.cli``, checked with skopeo, runc and the registries themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.remote import Credentials, save_credentials
from tests.conftest import need_binary, requires_root
from tests.registry.conftest import ADMIN_PASSWORD, Server, skopeo
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution

pytestmark = [requires_root, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("library_user.py")


def test_build_push_copy_pull_run_sbom_without_the_cli(
    ours: Server, distribution: Distribution, tmp_path: Path
) -> None:
    need_binary("skopeo")
    authfile = tmp_path / "auth.json"
    save_credentials(ours.host, Credentials("admin", ADMIN_PASSWORD), authfile)
    save_credentials(distribution.host, Credentials(DIST_USER, DIST_PASSWORD), authfile)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), ours.host, distribution.host, str(authfile)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cli_modules"] == []  # not one module of imageforge.cli was loaded

    built = out["built"]
    assert out["names"] == ["docker.io/library/hello-build:1"]
    # the build's --output equivalent: a layout skopeo reads, holding the same image
    layout = json.loads(skopeo("inspect", "--raw", f"oci:{tmp_path / 'layout'}:1").stdout)
    assert layout["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    # pushed to our registry and mirrored to distribution unchanged
    assert out["pushed"] == built and out["mirrored"] == built
    creds = f"{DIST_USER}:{DIST_PASSWORD}"
    seen = skopeo(
        "inspect",
        "--tls-verify=false",
        "--creds",
        creds,
        f"docker://{distribution.host}/mirror/hello:1",
    ).stdout
    assert json.loads(seen)["Digest"] == built
    # pulled back under its full name, then through an OCI archive to a docker archive
    assert out["pulled"] == [f"{distribution.host}/mirror/hello:1", built]
    # run in runc: the entrypoint, the greeting the build's RUN wrote, USER and WORKDIR
    code, said = out["ran"]
    assert code == 0
    assert said.startswith("hello, library! (")
    assert said.rstrip().endswith("running as app in /srv/hello")
    assert out["archived"] == built
    loaded = skopeo("inspect", f"docker-archive:{tmp_path / 'hello.tar'}").stdout
    labels = json.loads(loaded)["Labels"]
    assert labels["org.opencontainers.image.title"] == "hello-build"
    # the SBOM was read from the registry, of the image pushed
    assert out["sbom_source"] == [
        "image",
        f"docker://{ours.host}/library/hello-build:1",
        built,
    ]
    assert out["pruned_blobs"] == 0  # everything pulled is named
