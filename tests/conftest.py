"""Shared fixtures: the real machine is the test bed (no mocks of the kernel or runtimes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imageforge_cmd() -> list[str]:
    """The installed console script (as a user runs it), next to this Python."""
    script = Path(sys.executable).with_name("imageforge")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "imageforge"]


def run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    stdin_text: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``imageforge ARGS`` in a real subprocess with no terminal (stdin empty
    unless ``stdin_text`` is given)."""
    full_env = dict(os.environ)
    full_env.pop("IMAGEFORGE_ROOT", None)
    full_env["COLUMNS"] = "200"
    if env:
        full_env.update(env)
    return subprocess.run(
        [*imageforge_cmd(), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL if stdin_text is None else None,
        input=stdin_text,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def containers_env(directory: Path) -> dict[str, str]:
    """The environment for podman/buildah on these machines (MACHINE-NOTES): runc, and
    ulimits within the host's hard limits, through a containers.conf in ``directory``."""
    conf = directory / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:20000", "nproc=4096:4096"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    return dict(os.environ, CONTAINERS_CONF=str(conf))


requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, runtimes)")


class TcpServer:
    """A TCP server on this host that counts the connections it accepts and answers each
    with ``hello``: what a test's container should or should not reach."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.sendall(b"hello\n")


@contextmanager
def tcp_server(address: str) -> Iterator[TcpServer]:
    server = TcpServer(address)
    try:
        yield server
    finally:
        server.sock.close()


# The test files a run collected (tests/test_collection.py reads them instead of
# collecting the whole suite a second time).
COLLECTED_FILES = pytest.StashKey[set[str]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[COLLECTED_FILES] = {item.nodeid.split("::")[0] for item in session.items}


def need_binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{name} is not installed; 'make setup' installs it")
    return path


# CI runs must be repeatable: property tests explore randomly on a developer's machine
# and deterministically (same examples every run) in CI.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None)
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def debian_slim(tmp_path_factory: pytest.TempPathFactory) -> DebianSlim:
    """``imageforge bootstrap debian --slim`` once per session, as an OCI layout."""
    return make_debian_slim(tmp_path_factory)


from tests.bootstrap.conftest import DebianSlim, make_debian_slim  # noqa: E402


@pytest.fixture(scope="session")
def app_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SBOM app image of ``benchmarks/syft_parity.py`` (a venv with PyPI packages, an
    npm project from the registry, a Go binary, Maven's jars, gems), as an OCI layout
    whose tag is ``1``: the clean image the scanners are compared with their peers on."""
    import importlib

    # imported by name: the benchmark is a script, not part of what mypy checks here
    build_app = importlib.import_module("benchmarks.syft_parity").build_app
    layout: Path = build_app(tmp_path_factory.mktemp("app-image"))[0]
    return layout
