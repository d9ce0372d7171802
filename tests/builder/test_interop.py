"""A built image as other tools see it: podman loads and runs the docker-archive export,
skopeo and umoci accept the OCI layout."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.builder.conftest import ok
from tests.conftest import containers_env, need_binary, requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

DOCKERFILE = """\
FROM busybox
WORKDIR /srv
COPY msg.txt .
RUN echo "built: $(cat msg.txt)" > out.txt
CMD ["cat", "/srv/out.txt"]
"""


def test_built_image_runs_in_podman_and_passes_skopeo_and_umoci(
    tmp_path: Path, store_with_base: Path
) -> None:
    podman = need_binary("podman")
    skopeo = need_binary("skopeo")
    umoci = need_binary("umoci")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "msg.txt").write_text("interop")
    archive = tmp_path / "img.tar"
    layout = tmp_path / "layout"
    ok(
        run_cli(
            [
                "--root",
                str(store_with_base),
                "build",
                str(ctx),
                "-t",
                "interop:1",
                "--output",
                f"docker-archive:{archive}:interop:1",
                "--output",
                f"oci:{layout}:interop",
                "--progress",
                "quiet",
            ],
            timeout=300,
        )
    )
    inspected = subprocess.run(
        [skopeo, "inspect", f"oci:{layout}:interop"], capture_output=True, text=True, check=False
    )
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Layers"]
    unpacked = subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:interop", str(tmp_path / "bundle")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unpacked.returncode == 0, unpacked.stderr
    assert (tmp_path / "bundle" / "rootfs" / "srv" / "out.txt").read_text() == "built: interop\n"

    run = Path(tempfile.mkdtemp(prefix="ifpod-", dir="/tmp"))  # podman: short runroot
    try:
        env = containers_env(run)
        base = [
            podman,
            "--root",
            str(run / "storage"),
            "--runroot",
            str(run / "run"),
            "--storage-driver",
            "vfs",
        ]
        load = subprocess.run(
            [*base, "load", "-i", str(archive)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert load.returncode == 0, load.stderr
        ran = subprocess.run(
            [*base, "run", "--rm", "--network", "none", "interop:1"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == "built: interop\n"
    finally:
        subprocess.run([*base, "rm", "-af"], capture_output=True, env=env, check=False)
        shutil.rmtree(run, ignore_errors=True)
