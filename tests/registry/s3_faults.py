"""A small fault-injecting HTTP proxy in front of the test S3 server: it forwards every
request as it is (the Host header too, which S3 signatures cover) unless a fault planned
by the test matches it, then answers 500 or answers late."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# A request as the proxy sees it: method, path with query, headers (lower-case names).
Match = Callable[[str, str, dict[str, str]], bool]

_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>injected by the test proxy</Message></Error>"
)


def any_request(_method: str, _path: str, _headers: dict[str, str]) -> bool:
    return True


def server_side_copy(_method: str, _path: str, headers: dict[str, str]) -> bool:
    return "x-amz-copy-source" in headers


@dataclass
class Fault:
    match: Match
    times: int  # how many matching requests it hits (-1: all)
    status: int = 500
    delay: float = 0.0  # seconds to wait before forwarding (instead of a status)


@dataclass
class FaultProxy:
    upstream: str  # http://host:port
    faults: list[Fault] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)  # "500 PUT /path", "slow GET /path"
    forwarded: int = 0
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(self, match: Match, times: int, *, status: int = 500, delay: float = 0.0) -> None:
        with self._lock:
            self.faults.append(Fault(match, times, status, delay))

    def _fault(self, method: str, path: str, headers: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times != 0 and fault.match(method, path, headers):
                    if fault.times > 0:
                        fault.times -= 1
                    kind = "slow" if fault.delay else str(fault.status)
                    self.hits.append(f"{kind} {method} {path.split('?')[0]}")
                    return fault
            self.forwarded += 1
        return None


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("content-length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            fault = proxy._fault(self.command, self.path, headers)
            if fault is not None and not fault.delay:
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(_ERROR)))
                self.end_headers()
                self.wfile.write(_ERROR)
                return
            if fault is not None:
                threading.Event().wait(fault.delay)
            conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    conn.putheader(name, value)
                conn.endheaders(body or None)
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            try:
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a slow answer): as a real server sees it

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

    return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
