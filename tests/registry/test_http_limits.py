"""Slow and oversized requests (finding 13 of issue 19): a client trickling its request
headers is answered 408 and cut off after ``header_timeout``, and a management request
body over 1 MiB is refused with 413 before it is read whole."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.registry.conftest import Server, make_server


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Server]:
    srv = make_server(tmp_path / "registry", "[registry]\nheader_timeout = 2\n")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _connect(srv: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=30)


def _read_until_closed(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(4096):
        out += chunk
    return out


def test_a_client_trickling_its_headers_is_cut_off(quick: Server) -> None:
    request = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\n\r\n"
    with _connect(quick) as sock:
        start = time.monotonic()
        sent = 0
        for byte in request:  # a byte a second: the headers would take a minute
            sock.sendall(bytes([byte]))
            sent += 1
            readable, _w, _x = select.select([sock], [], [], 1.0)
            if readable or time.monotonic() - start > 10:
                break  # the server answered (or gave up)
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request headers not received within 2 s" in answer
    assert elapsed < 6, elapsed  # the 2 s timeout, and a byte's sleep
    assert sent < len(request)


def test_a_silent_connection_is_closed_and_quick_clients_are_served(quick: Server) -> None:
    with _connect(quick) as sock:
        start = time.monotonic()
        answer = _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - start < 5
    with _connect(quick) as sock:  # headers in pieces, but within the timeout
        for part in (b"GET /v2/ HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            sock.sendall(part)
            time.sleep(0.3)
        assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")
        # the same connection, kept alive, serves a second request
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")


def test_management_request_bodies_are_bounded(server: Server) -> None:
    huge = b'{"name": "x", "password": "' + b"p" * (2 << 20) + b'"}'
    with server.client() as admin:
        r = admin.post("/api/v1/users", content=huge, headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert (
            r.json()["errors"][0]["message"]
            == "request body is larger than 1048576 bytes (the limit)"
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            for i in range(0, len(huge), 65536):
                yield huge[i : i + 65536]

        r = admin.post("/api/v1/users", content=chunks())
        assert r.status_code == 413
        ok = admin.post("/api/v1/users", json={"name": "fine", "password": "long-enough"})
        assert ok.status_code == 201
    assert httpx.get(f"{server.url}/v2/").status_code == 401  # still serving
