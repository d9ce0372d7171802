"""A pull reads every response to its end, so its requests share the connections it
opened instead of opening one per blob (on a remote registry each new connection is a
TLS handshake): the config, the layer and the questions asked after them about
signatures all go over one connection. Counted as the kernel sees them (strace)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import imageforge_cmd, need_binary, run_cli
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution, ok

NO_TLS = "--tls-verify=false"


@pytest.mark.slow
def test_a_pull_to_a_layout_sends_all_its_requests_over_one_connection(
    distribution: Distribution, root: Path, authfile: Path, tmp_path: Path
) -> None:
    strace = need_binary("strace")
    host = distribution.host
    ok(run_cli(["login", host, "-u", DIST_USER, "-p", DIST_PASSWORD, NO_TLS]))
    pushed = ok(
        run_cli(["--root", str(root), "push", "hello:1", f"{host}/team/hello:v1", NO_TLS])
    ).stdout.strip()
    layout, log = tmp_path / "layout", tmp_path / "connect.log"
    proc = subprocess.run(
        [strace, "-f", "-qq", "-o", str(log), "-e", "trace=connect", *imageforge_cmd()]
        + ["--root", str(tmp_path / "fresh"), "copy", f"docker://{host}/team/hello:v1"]
        + [f"oci:{layout}:1", NO_TLS],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REGISTRY_AUTH_FILE": str(authfile)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == pushed
    port = host.rsplit(":", 1)[1]
    connects = [line for line in log.read_text().splitlines() if f"htons({port})" in line]
    # the https attempt --tls-verify=false makes first, then one for every request
    assert len(connects) == 2, connects
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    assert [e["digest"] for e in entries] == [pushed]
