"""A full disk under the registry (a size-limited tmpfs holding its data directory):
pulls go on, although each pull's audit entry can no longer be written."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, skopeo

CREDS = f"admin:{ADMIN_PASSWORD}"


def _fill(directory: Path) -> None:
    """Write until the filesystem says it is full."""
    with open(directory / "filler", "wb") as f:
        chunk = b"\0" * (64 << 10)
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    data = tmp_path / "registry" / "data"
    data.mkdir(parents=True)
    opts = "size=16m,mode=0700"
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(data)], check=True)
    srv = Server(data, None, db=None)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        subprocess.run(["umount", "-l", str(data)], check=False)


@pytest.mark.slow
def test_pulls_are_served_when_the_disk_is_full(
    small_server: Server, hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    ref = f"docker://{small_server.host}/library/hello:1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1", ref)
    _fill(small_server.data_dir)
    for i in range(5):
        out = tmp_path / f"back{i}"
        r = skopeo("copy", "--src-tls-verify=false", ref, f"oci:{out}:1", check=False)
        assert r.returncode == 0, r.stderr
        pulled = json.loads((out / "index.json").read_text())["manifests"][0]["digest"]
        assert (
            pulled == json.loads((hello_oci / "index.json").read_text())["manifests"][0]["digest"]
        )
    # The fault was real: the server could not write the pulls' audit entries, and said so.
    assert "audit entry not written" in small_server.log()


@pytest.mark.slow
def test_a_push_that_fills_the_disk_is_refused_and_releases_its_space(
    small_server: Server, hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    big = tmp_path / "big"
    (big / "rootfs").mkdir(parents=True)
    (big / "rootfs" / "noise").write_bytes(os.urandom(24 << 20))  # more than the disk
    r = run_cli(
        ["--root", str(tmp_path / "store"), "import", f"rootfs:{big / 'rootfs'}", "-t", "b:1"]
    )
    assert r.returncode == 0, r.stderr
    r = run_cli(["--root", str(tmp_path / "store"), "export", "b:1", f"oci:{big / 'oci'}:1"])
    assert r.returncode == 0, r.stderr
    free = shutil.disk_usage(small_server.data_dir).free
    ref = f"docker://{small_server.host}/library/big:1"
    r = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        CREDS,
        f"oci:{big / 'oci'}:1",
        ref,
        check=False,
    )
    assert r.returncode != 0
    # The 507 is answered while skopeo is still sending the chunk: the server's close
    # lingers (FIN, then reads and drops the rest), so skopeo reads the 507 instead of a
    # reset (which it got in about half the runs before the close lingered).
    assert "507" in r.stderr, r.stderr
    assert "500" not in r.stderr
    # What the failed upload wrote is released at once, not when a GC runs.
    assert shutil.disk_usage(small_server.data_dir).free >= free - (1 << 20)
    # And the registry still takes a push that fits.
    small = f"docker://{small_server.host}/library/hello:1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{hello_oci}:1", small)
