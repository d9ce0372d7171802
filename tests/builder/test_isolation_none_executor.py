"""The executor image (examples/executor), built by imageforge itself on the Debian the
bootstrap tests make, runs where Kaniko runs: a podman container with no privileges, no
added capability and the default seccomp profile, on the host's network. As the example
Job does, it reads the context from a read-only mount and the credentials from a mounted
auth.json, builds with ``--isolation none`` on a base pulled from a registry on loopback
and pushes the image there; pulled back, it equals the normal builder's.

Building the image installs Python from Debian's mirror and imageforge with its
dependencies from PyPI: minutes, once per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import imageforge
from tests.bootstrap.conftest import DebianSlim
from tests.builder.conftest import ok
from tests.builder.test_buildah_diff import _FIELDS, _config, _unpack
from tests.builder.test_buildah_diff import tree as image_tree
from tests.builder.test_isolation_none_container import podman
from tests.conftest import requires_root, run_cli
from tests.registry.conftest import Server
from tests.remote.conftest import authfile, login_ours, ours

pytestmark = [requires_root, pytest.mark.slow]
__all__ = ["authfile", "ours", "podman"]  # fixtures

REPO = Path(imageforge.__file__).resolve().parents[2]
# Where PyPI is reached through a TLS-intercepting proxy, its CA is in the host's bundle;
# the build gets it as a secret (examples/executor/Dockerfile), never in a layer.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory, debian_slim: DebianSlim) -> Path:
    """``oci:DIR:executor``: ``imageforge build examples/executor`` from the repository."""
    work = tmp_path_factory.mktemp("executor")
    layout = work / "layout"
    secret = ["--secret", f"id=pip-ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    proc = run_cli(
        ["--root", str(work / "store"), "build", str(REPO), "-f", "examples/executor/Dockerfile"]
        + ["--build-arg", f"BASE=oci:{debian_slim.layout}:bookworm-slim", *secret]
        + ["--output", f"oci:{layout}:executor", "--progress", "plain"],
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return layout


def test_the_executor_image_builds_and_pushes_from_an_unprivileged_pod(
    tmp_path: Path,
    executor: Path,
    base_layout: Path,
    podman: tuple[list[str], dict[str, str]],
    ours: Server,
    authfile: Path,
) -> None:
    login_ours(ours)  # writes authfile: the pod's Secret
    base = f"{ours.host}/library/busybox:base"
    ok(run_cli(["copy", f"oci:{base_layout}:busybox", f"docker://{base}", "--tls-verify=false"]))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.sh").write_text("#!/bin/sh\necho app\n")
    (context / "Dockerfile").write_text(
        f"FROM {base}\nCOPY --chmod=755 app.sh /usr/local/bin/app\n"
        "RUN mkdir -p /var/app && app > /var/app/out && rm -f /etc/motd\n"
        'USER app\nENTRYPOINT ["app"]\n'
    )
    workspace = tmp_path / "workspace"  # the Job's emptyDir
    workspace.mkdir()
    image = f"{ours.host}/library/small:1"
    cmd, env = podman
    proc = subprocess.run(
        [*cmd, "run", "--rm", "--network", "host"]
        + ["-v", f"{context}:/context:ro", "-v", f"{authfile.parent}:/secrets/registry:ro"]
        + ["-v", f"{workspace}:/workspace", "-e", "REGISTRY_AUTH_FILE=/secrets/registry/auth.json"]
        + [f"oci:{executor}:executor", "/context", "--output", f"docker://{image}"]
        + ["--tls-verify=false", "--progress", "plain"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "isolation none" in proc.stderr

    pulled, normal = tmp_path / "pulled", tmp_path / "normal"
    ok(run_cli(["copy", f"docker://{image}", f"oci:{pulled}:small", "--tls-verify=false"]))
    ok(
        run_cli(
            ["--root", str(tmp_path / "store"), "build", str(context), "--tls-verify=false"]
            + ["--output", f"oci:{normal}:small"],
            timeout=300,
        )
    )
    for field in _FIELDS:
        assert _config(pulled, "small").get(field) == _config(normal, "small").get(field), field
    ours_tree = image_tree(_unpack(pulled, "small", tmp_path / "u-ours"))
    assert ours_tree == image_tree(_unpack(normal, "small", tmp_path / "u-normal"))
    assert "var/app/out" in ours_tree
