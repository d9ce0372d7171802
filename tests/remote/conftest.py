"""Registries for the client tests: imageforge's own (``registry serve``) and Debian's
``docker-registry`` (distribution 2.8, htpasswd auth), each on a free loopback port; a
store holding a small image; a credentials file of the test's own."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest

from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, _free_port, make_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIST_USER, DIST_PASSWORD = "alice", "alice-s3cret"


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{proc.stderr}"
    return proc


@dataclass
class Distribution:
    """Debian's docker-registry with one htpasswd user."""

    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_level: str = "warn"  # info: every request in the log (method, URI, status)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            pytest.fail("docker-registry is not installed; 'make setup' installs it")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        hashed = bcrypt.hashpw(DIST_PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
        (self.root / "htpasswd").write_text(f"{DIST_USER}:{hashed}\n")
        (self.root / "config.yml").write_text(
            f"""version: 0.1
log:
  level: {self.log_level}
storage:
  filesystem:
    rootdirectory: {self.root / "data"}
  delete:
    enabled: true
http:
  addr: {self.host}
auth:
  htpasswd:
    realm: test-realm
    path: {self.root / "htpasswd"}
"""
        )
        log = open(self.root / "log", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen(
            [binary, "serve", str(self.root / "config.yml")], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=1)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.root / "log").read_text()) from None
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture
def ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """imageforge's registry (SQLite metadata); user admin, public project library."""
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    srv = make_server(tmp_path / "ours")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[Distribution]:
    reg = Distribution(tmp_path / "distribution")
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def authfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$REGISTRY_AUTH_FILE`` for this test (login writes it, every command reads it)."""
    path = tmp_path / "auth" / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    return path


@pytest.fixture(scope="session")
def hello_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store root holding ``hello:1`` (the example rootfs), copied per test by ``root``."""
    root = tmp_path_factory.mktemp("hello-store") / "root"
    ok(
        run_cli(
            ["--root", str(root), "import", f"rootfs:{EXAMPLES / 'hello-rootfs'}", "-t", "hello:1"]
        )
    )
    return root


@pytest.fixture
def root(tmp_path: Path, hello_store: Path) -> Path:
    dest = tmp_path / "root"
    shutil.copytree(hello_store, dest, symlinks=True)
    return dest


def login_ours(server: Server, env: dict[str, str] | None = None) -> None:
    ok(
        run_cli(
            ["login", server.host, "-u", "admin", "--password-stdin", "--tls-verify=false"],
            stdin_text=ADMIN_PASSWORD + "\n",
            env=env,
        )
    )


def store_files(root: Path) -> dict[str, int]:
    """Every file under a store's blobs and the refs, with sizes: what 'unchanged' means."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith(("-wal", "-shm")):
            out[str(path.relative_to(root))] = path.stat().st_size
    return out


def _put_blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def make_index_layout(source: Path, dest: Path) -> dict[str, str]:
    """An OCI layout at ``dest`` (tag ``multi``) whose index holds the image of the
    layout ``source`` twice: as linux/amd64 and as linux/arm64/v8 (same layer, its own
    config). Returns platform -> manifest digest."""
    shutil.copytree(source, dest)
    index = json.loads((dest / "index.json").read_text())
    manifest_desc = index["manifests"][0]
    manifest = json.loads(
        (dest / "blobs" / "sha256" / manifest_desc["digest"].split(":")[1]).read_text()
    )
    config = json.loads(
        (dest / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_text()
    )
    children = []
    out = {}
    for arch, variant in (("amd64", ""), ("arm64", "v8")):
        cfg = dict(config, architecture=arch)
        if variant:
            cfg["variant"] = variant
        cdesc = _put_blob(dest, json.dumps(cfg).encode())
        m = dict(manifest, config={**manifest["config"], **cdesc})
        mdesc = _put_blob(dest, json.dumps(m).encode())
        platform = {"os": "linux", "architecture": arch}
        if variant:
            platform["variant"] = variant
        children.append({"mediaType": manifest["mediaType"], **mdesc, "platform": platform})
        out["linux/" + arch + (f"/{variant}" if variant else "")] = str(mdesc["digest"])
    idx = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children,
    }
    idesc = _put_blob(dest, json.dumps(idx).encode())
    top = {
        "mediaType": idx["mediaType"],
        **idesc,
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    out["index"] = str(idesc["digest"])
    return out


@pytest.fixture(scope="session")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store root holding ``big:1``: one layer of 3 MiB of random (incompressible)
    bytes, big enough for chunked uploads and for a connection cut mid-blob."""
    base = tmp_path_factory.mktemp("big")
    rootfs = base / "rootfs"
    rootfs.mkdir()
    (rootfs / "random.bin").write_bytes(os.urandom(3 << 20))
    root = base / "root"
    ok(run_cli(["--root", str(root), "import", f"rootfs:{rootfs}", "-t", "big:1"]))
    return root
