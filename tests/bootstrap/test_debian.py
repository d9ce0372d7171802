"""``imageforge bootstrap debian --slim`` end to end: debootstrap from the host's mirror,
tidied and slimmed as Debian's official -slim images are, accepted by umoci."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from imageforge.bootstrap import debian_image
from imageforge.bootstrap._tidy import SLIM_EXCLUDES, SLIM_INCLUDES
from imageforge.errors import InvalidArgument, Unavailable
from imageforge.store import Store
from tests.bootstrap.conftest import DebianSlim, run
from tests.conftest import need_binary

pytestmark = pytest.mark.slow

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _files(top: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(top) for f in files]


def test_slim_keeps_only_copyright_files_and_no_manuals(debian_slim: DebianSlim) -> None:
    root = debian_slim.rootfs
    docs = _files(root / "usr" / "share" / "doc")
    assert len(docs) > 50
    assert {p.name for p in docs} == {"copyright"}
    assert _files(root / "usr" / "share" / "man") == []
    assert _files(root / "usr" / "share" / "info") == []
    assert {p.name for p in _files(root / "usr" / "share" / "locale")} <= {
        "locale.alias",
        "languages",
        "all_languages",
    }


def test_slim_writes_the_dpkg_excludes(debian_slim: DebianSlim) -> None:
    config = (debian_slim.rootfs / "etc" / "dpkg" / "dpkg.cfg.d" / "docker").read_text()
    lines = config.splitlines()
    for pattern in SLIM_EXCLUDES:
        assert f"path-exclude {pattern}" in lines
    for pattern in SLIM_INCLUDES:
        assert f"path-include {pattern}" in lines


def test_image_is_a_working_debian_without_caches_or_host_details(
    debian_slim: DebianSlim,
) -> None:
    root = debian_slim.rootfs
    assert (root / "etc" / "debian_version").read_text().startswith("12.")
    assert list((root / "dev").iterdir()) == []  # before chroot: apt-get creates dev/null
    # apt works inside the tree; the official minimizing config is in place.
    version = run("chroot", root, "/usr/bin/apt-get", "--version")
    assert version.startswith("apt ")
    for name in ("docker-clean", "docker-gzip-indexes", "docker-no-languages"):
        assert (root / "etc" / "apt" / "apt.conf.d" / name).is_file()
    assert (root / "usr" / "sbin" / "policy-rc.d").read_text().rstrip().endswith("exit 101")
    assert _files(root / "var" / "lib" / "apt" / "lists") == []
    assert _files(root / "var" / "cache" / "apt") == []
    assert not (root / "var" / "log" / "dpkg.log").exists()
    assert (root / "etc" / "resolv.conf").read_text() == ""
    assert (root / "etc" / "hostname").read_text().strip() != socket.gethostname()
    # Well under the 206 MB of a plain minbase tree.
    assert sum(p.lstat().st_size for p in _files(root)) < 110_000_000


def test_config_and_result(debian_slim: DebianSlim) -> None:
    result = debian_slim.result
    assert result["name"] == "docker.io/library/debian:bookworm-slim"
    config = json.loads(
        run("skopeo", "inspect", "--config", f"oci:{debian_slim.layout}:bookworm-slim")
    )
    assert config["config"] == {"Env": [PATH], "Cmd": ["bash"]}
    [history] = config["history"]
    assert history["created_by"].startswith(
        "imageforge bootstrap debian --suite bookworm --variant minbase --slim (debootstrap 1."
    )
    assert "debootstrap: I: Base system installed successfully." in debian_slim.stderr


def test_unreachable_mirror_is_unavailable_and_cleans_up(tmp_path: Path) -> None:
    need_binary("debootstrap")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    store = Store(tmp_path / "store")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(Unavailable, match="debootstrap bookworm .* failed") as info:
        debian_image(store, mirror=f"http://127.0.0.1:{port}/debian", workdir=work)
    assert info.value.hint is not None and "--mirror" in info.value.hint
    assert list(work.iterdir()) == []
    assert list(store.blobs.walk()) == []


def test_bad_arguments_are_refused_before_any_work(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with pytest.raises(InvalidArgument, match="variant"):
        debian_image(store, variant="tiny")
    with pytest.raises(InvalidArgument, match="does not know the suite"):
        debian_image(store, suite="nosuchsuite", mirror="http://127.0.0.1:9/debian")
    with pytest.raises(InvalidArgument, match="not an http"):
        debian_image(store, mirror="deb.debian.org/debian")
