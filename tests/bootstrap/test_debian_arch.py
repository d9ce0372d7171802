"""``imageforge bootstrap debian --arch arm64``: debootstrap's ``--arch``, its second stage
run through qemu-user (binfmt_misc); the image names its platform and its dpkg says
arm64, run here through qemu too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.bootstrap import debian_image
from imageforge.errors import InvalidArgument
from imageforge.oci import host_platform
from imageforge.store import Store
from tests.builder.conftest import ok
from tests.conftest import need_binary, requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]


@pytest.mark.skipif(
    host_platform().architecture == "arm64", reason="arm64 is this machine's own: not foreign"
)
def test_an_arm64_debian_whose_dpkg_says_arm64(tmp_path: Path) -> None:
    need_binary("debootstrap")
    root = ["--root", str(tmp_path / "store")]
    made = ok(
        run_cli(
            [
                *root,
                "bootstrap",
                "debian",
                "--slim",
                "--arch",
                "arm64",
                "-t",
                "debian-arm64:bookworm",
                "--format",
                "json",
                "--progress",
                "plain",
            ],
            timeout=1800,
        )
    )
    digest = json.loads(made.stdout)["digest"]
    doc = json.loads(
        ok(run_cli([*root, "inspect", "debian-arm64:bookworm", "--format", "json"])).stdout
    )
    assert doc["digest"] == digest
    assert (doc["config"]["os"], doc["config"]["architecture"]) == ("linux", "arm64")
    assert doc["config"]["variant"] == "v8"
    assert "--arch arm64" in doc["history"][0]["created_by"]
    ran = ok(
        run_cli(
            [
                *root,
                "run",
                "--network",
                "none",
                "debian-arm64:bookworm",
                "sh",
                "-c",
                "dpkg --print-architecture; uname -m; dpkg-query -W -f '${Architecture}\\n' libc6",
            ],
            timeout=300,
        )
    )
    assert ran.stdout.split() == ["arm64", "aarch64", "arm64"]


def test_an_unknown_architecture_is_refused_before_any_work(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with pytest.raises(InvalidArgument, match="not a Debian architecture imageforge knows"):
        debian_image(store, arch="sparc64", mirror="http://127.0.0.1:9/debian")
    assert list(store.blobs.walk()) == []
    proc = run_cli(["--root", str(tmp_path / "s"), "bootstrap", "debian", "--arch", "vax"])
    assert proc.returncode != 0
    assert "--arch 'vax': not a Debian architecture imageforge knows" in proc.stderr
