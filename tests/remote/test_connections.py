"""A pull reads every response to its end, so its requests share the connections it
opened instead of opening one per blob (on a remote registry each new connection is a
TLS handshake): the config, the layer and the questions asked after them about
signatures all go over one connection. Counted as the kernel sees them (strace).

A registry whose response runs on past the blob (a lying ``Content-Length``) is not
read any further: that connection is closed, never reused."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from imageforge.oci import Digest
from imageforge.remote import Client
from tests.conftest import imageforge_cmd, need_binary, run_cli
from tests.remote.conftest import DIST_PASSWORD, DIST_USER, Distribution, ok

NO_TLS = "--tls-verify=false"


@pytest.mark.slow
def test_a_pull_to_a_layout_sends_all_its_requests_over_one_connection(
    distribution: Distribution, root: Path, authfile: Path, tmp_path: Path
) -> None:
    strace = need_binary("strace")
    host = distribution.host
    ok(run_cli(["login", host, "-u", DIST_USER, "-p", DIST_PASSWORD, NO_TLS]))
    pushed = ok(
        run_cli(["--root", str(root), "push", "hello:1", f"{host}/team/hello:v1", NO_TLS])
    ).stdout.strip()
    layout, log = tmp_path / "layout", tmp_path / "connect.log"
    proc = subprocess.run(
        [strace, "-f", "-qq", "-o", str(log), "-e", "trace=connect", *imageforge_cmd()]
        + ["--root", str(tmp_path / "fresh"), "copy", f"docker://{host}/team/hello:v1"]
        + [f"oci:{layout}:1", NO_TLS],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REGISTRY_AUTH_FILE": str(authfile)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == pushed
    port = host.rsplit(":", 1)[1]
    connects = [line for line in log.read_text().splitlines() if f"htons({port})" in line]
    # the https attempt --tls-verify=false makes first, then one for every request
    assert len(connects) == 2, connects
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    assert [e["digest"] for e in entries] == [pushed]


class _BlobServer:
    """Plain HTTP on loopback answering every ``GET /v2/r/blobs/...`` with ``blob`` and,
    after a pause, ``extra`` bytes more, all within one ``Content-Length``; anything else
    (the client's https attempt) is hung up on. Notes which connection served what."""

    def __init__(self, blob: bytes, extra: bytes) -> None:
        self.blob, self.extra = blob, extra
        self.served: list[int] = []  # the connection number of every blob answered
        self.cut = 0  # answers whose extra bytes the client did not wait for
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        number = 0
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            number += 1
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                    if not b"GET ".startswith(pending[:4]):
                        return  # not plain HTTP (the https attempt): hang up at once
                request, _, pending = pending.partition(b"\r\n\r\n")
                if not request.startswith(b"GET /v2/r/blobs/"):
                    return
                self.served.append(number)
                length = len(self.blob) + len(self.extra)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length)
                conn.sendall(self.blob)
                if self.extra:
                    time.sleep(0.2)  # the blob has been read whole by then
                    try:
                        conn.sendall(self.extra)
                    except OSError:  # the client hung up before taking it all
                        self.cut += 1
                        return

    def close(self) -> None:
        """Stop listening and wait for every connection to end."""
        self._listener.close()
        for thread in list(self._threads):
            thread.join(30)


@pytest.mark.parametrize("extra", [b"", b"x" * (64 << 20)], ids=["honest", "64MiB-more"])
def test_a_response_longer_than_its_blob_is_not_reused(extra: bytes) -> None:
    blob = os.urandom(100_000)
    digest = Digest("sha256:" + hashlib.sha256(blob).hexdigest())
    server = _BlobServer(blob, extra)
    try:
        with Client(tls_verify=False, backoff=0.01) as client:
            for _ in range(3):
                with client.open_blob(server.host, "r", digest, size=len(blob)) as f:
                    assert f.read() == blob  # the blob, never what follows it
    finally:
        server.close()
    # an honest response gives its connection back; one that runs on loses it each time,
    # the client hanging up rather than reading what follows the blob
    assert len(server.served) == 3
    assert len(set(server.served)) == (3 if extra else 1), server.served
    assert server.cut == (3 if extra else 0)
