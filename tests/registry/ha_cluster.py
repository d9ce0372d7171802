"""Registry replicas behind a load balancer, on loopback: ``n`` ``registry serve``
processes (each with a data directory of its own) sharing one PostgreSQL database, one
S3 prefix of the SeaweedFS cluster and one token key file, behind HAProxy balancing
each request round-robin. HAProxy names the replica that answered in ``X-Served-By``.
The benchmarks start it too (``benchmarks/registry_ha.py``)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.registry.conftest import Server, _free_port
from tests.registry.seaweedfs import ACCESS_KEY, SECRET_KEY

S3_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")


def haproxy_config(port: int, backends: list[int]) -> str:
    servers = "\n".join(
        f"    server r{i} 127.0.0.1:{p} check inter 1s fall 2 rise 1"
        for i, p in enumerate(backends)
    )
    return f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-request 30s
    option forwardfor
frontend registry
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /v2/
    http-check expect rstatus (200|401)
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


@dataclass
class Balancer:
    """HAProxy in front of the given loopback ports."""

    haproxy: str
    root: Path
    backends: list[int]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> None:
        self.port = self.port or _free_port()
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(haproxy_config(self.port, self.backends))
        log = open(self.root / "haproxy.log", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen([self.haproxy, "-db", "-f", str(cfg)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited: " + (self.root / "haproxy.log").read_text())
            try:  # up, and every replica passed its health check
                served = {httpx.get(self.url + "/v2/", timeout=2).headers.get("x-served-by")}
                for _ in range(3 * len(self.backends)):
                    served.add(httpx.get(self.url + "/v2/", timeout=2).headers.get("x-served-by"))
                if len(served) == len(self.backends):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("haproxy did not balance over every replica in 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


@dataclass
class Cluster:
    """``replicas`` servers (not started) over one database and one S3 prefix."""

    root: Path
    db: str
    storage: str
    replicas: list[Server] = field(default_factory=list)
    balancer: Balancer | None = None

    @classmethod
    def make(
        cls,
        root: Path,
        db: str,
        storage: str,
        n: int,
        haproxy: str,
        *,
        config: str = "",
        store_root: Path | None = None,
    ) -> Cluster:
        root.mkdir(parents=True, exist_ok=True)
        key = root / "token.key"
        key.write_text(secrets.token_hex(32) + "\n")
        key.chmod(0o600)
        sealing = root / "secret.key"  # seals replication passwords: one for all, too
        sealing.write_text(secrets.token_hex(32) + "\n")
        sealing.chmod(0o600)
        cluster = cls(root, db, storage)
        for i in range(n):
            home = root / f"replica{i}"
            home.mkdir()
            cfg = home / "registry.toml"
            cfg.write_text(f'[registry]\ntrusted_proxies = ["127.0.0.1"]\n{config}')
            env = {
                **S3_ENV,
                "IMAGEFORGE_REGISTRY_DB": db,
                "IMAGEFORGE_REGISTRY_STORAGE": storage,
                "IMAGEFORGE_REGISTRY_TOKEN_KEY_FILE": str(key),
                "IMAGEFORGE_SECRET_KEY_FILE": str(sealing),
            }
            cluster.replicas.append(Server(home / "data", cfg, env=env, db=db, root=store_root))
        cluster.balancer = Balancer(haproxy, root, [])
        return cluster

    @property
    def lb(self) -> Balancer:
        assert self.balancer is not None
        return self.balancer

    def start(self) -> None:
        try:
            for server in self.replicas:
                server.start()
            self.lb.backends = [s.port for s in self.replicas]
            self.lb.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.lb.stop()
        for server in self.replicas:
            try:
                server.stop()
            except subprocess.TimeoutExpired:  # never left running: the database goes next
                assert server.proc is not None
                server.proc.kill()
                server.proc.wait()
                server.proc = None
                raise
