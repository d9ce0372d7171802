"""A small web app: each request does a little work (hashing) and keeps its answer in a
bounded cache, so CPU follows the request rate and memory grows to a plateau."""

import hashlib
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CACHE: dict[str, bytes] = {}
CACHE_MAX = 2000


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        digest = hashlib.sha256(self.path.encode())
        for _ in range(2000):
            digest = hashlib.sha256(digest.digest())
        key = f"{self.path}-{len(CACHE)}"
        if len(CACHE) < CACHE_MAX:
            CACHE[key] = os.urandom(4096)
        body = f"{digest.hexdigest()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> None:
    # as a container's pid 1, exit on SIGTERM (docker stop, tune ending a run)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
