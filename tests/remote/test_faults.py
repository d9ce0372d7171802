"""Real socket faults between client and registry: a proxy on loopback that cuts the
connection mid-blob, then either refuses every later connection (the server is gone)
or keeps serving (a passing fault the client resumes with Range)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.remote.conftest import login_ours, ok, store_files

NO_TLS = "--tls-verify=false"


class CuttingProxy:
    """Forwards 127.0.0.1:port to the registry; after ``cut_after`` bytes sent back to
    clients it closes that connection, and with ``refuse_after_cut`` every other one and
    its port too."""

    def __init__(self, target: int, cut_after: int, refuse_after_cut: bool) -> None:
        self.target = target
        self.cut_after = cut_after
        self.refuse_after_cut = refuse_after_cut
        self.sent = 0
        self.cut = False
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()

    def _up(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                with self._lock:
                    self.requests.append(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(dst)

    def _down(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                with self._lock:
                    cut_now = not self.cut and self.sent + len(data) > self.cut_after
                    if cut_now:
                        data = data[: self.cut_after - self.sent]
                        self.cut = True
                    self.sent += len(data)
                dst.sendall(data)
                if cut_now:
                    if self.refuse_after_cut:
                        self.close()  # the server is gone: every connection, and the port
                    break
        except OSError:
            pass
        finally:
            _close(dst)
            _close(src)

    def close(self) -> None:
        _close(self._listener)  # shutdown wakes the accept() blocked in the other thread
        with self._lock:
            for s in self._conns:
                _close(s)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@pytest.fixture
def big_in_ours(ours: Server, big_store: Path, authfile: Path) -> Iterator[Server]:
    login_ours(ours)
    ok(run_cli(["--root", str(big_store), "push", "big:1", f"{ours.host}/library/big:1", NO_TLS]))
    yield ours


@pytest.mark.slow
def test_server_gone_mid_pull_retries_then_fails_and_stores_nothing(
    big_in_ours: Server, root: Path
) -> None:
    proxy = CuttingProxy(big_in_ours.port, cut_after=1 << 20, refuse_after_cut=True)
    try:
        before = store_files(root)
        r = run_cli(["--root", str(root), "pull", f"{proxy.host}/library/big:1", NO_TLS])
    finally:
        proxy.close()
    assert proxy.cut
    assert r.returncode == 10, r.stderr  # Unavailable
    assert f"{proxy.host}: blob sha256:" in r.stderr and "library/big" in r.stderr
    assert "tried 5 times" in r.stderr and "download had stopped after" in r.stderr
    assert store_files(root) == before  # no partial blob, no name, nothing else either
    images = json.loads(ok(run_cli(["--root", str(root), "images", "--format", "json"])).stdout)
    assert [f"{i['repository']}:{i['tag']}" for i in images] == ["hello:1"]


@pytest.mark.slow
def test_a_dropped_connection_is_resumed_from_the_last_byte(
    big_in_ours: Server, tmp_path: Path
) -> None:
    proxy = CuttingProxy(big_in_ours.port, cut_after=1 << 20, refuse_after_cut=False)
    try:
        out = ok(
            run_cli(["--root", str(tmp_path / "r"), "pull", f"{proxy.host}/library/big:1", NO_TLS])
        )
    finally:
        proxy.close()
    assert proxy.cut
    ranges = [
        line
        for req in proxy.requests
        for line in req.split(b"\r\n")
        if line.lower().startswith(b"range: bytes=")
    ]
    assert len(ranges) == 1 and not ranges[0].endswith(b"=0-")
    direct = ok(
        run_cli(
            ["--root", str(tmp_path / "d"), "pull", f"{big_in_ours.host}/library/big:1", NO_TLS]
        )
    )
    assert out.stdout == direct.stdout  # the same digest, verified
