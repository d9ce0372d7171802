"""The load generators on their own: the built-in HTTP generator against a real server
on loopback, a load command that fails or does not exist."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imageforge.errors import InvalidArgument, StepFailed
from imageforge.tune import CommandLoad, HttpLoad


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/slow":
            time.sleep(0.1)
        status = 500 if self.path == "/fail" else 200
        self.send_response(status)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_http_generator_keeps_its_rate_and_reports_latency(server: str) -> None:
    load = HttpLoad(server + "/", rps=40, concurrency=4)
    assert load.ready()
    requests = load.run(1.0)
    assert 38 <= len(requests) <= 40  # started on a schedule: 40 in a second
    start = min(r.at for r in requests)
    result = HttpLoad.result(requests, start, start + 1.0)
    assert result.errors == 0 and result.requests == len(requests)
    lat = result.latency_ms or {}
    assert 0 < lat["p50"] <= lat["p95"] <= lat["max"]
    assert result.to_json()["throughput_rps"] == pytest.approx(len(requests), abs=0.01)
    failing = HttpLoad(server + "/fail", rps=20, concurrency=2).run(0.5)
    assert failing and not any(r.ok for r in failing)
    with pytest.raises(InvalidArgument):
        HttpLoad("127.0.0.1:80/", rps=1, concurrency=1)


def test_a_service_slower_than_the_rate_ends_the_run_on_time(server: str) -> None:
    # 0.1 s a request, one at a time: 10/s served of 50/s asked; the 40/s queued behind
    # are dropped at the end rather than sent for seconds after it
    start = time.monotonic()
    requests = HttpLoad(server + "/slow", rps=50, concurrency=1).run(1.0)
    assert time.monotonic() - start < 1.5
    assert 5 <= len(requests) <= 11 and all(r.ok for r in requests)


def test_a_failing_load_command_is_a_clear_error_with_its_output() -> None:
    with pytest.raises(StepFailed, match=r"load command failed \(exit code 3\)") as caught:
        CommandLoad(["sh", "-c", "echo no server at $IMAGEFORGE_TUNE_PORT >&2; exit 3"]).run(
            {"IMAGEFORGE_TUNE_PORT": "18080"}, 10
        )
    assert caught.value.output == ("no server at 18080",)
    with pytest.raises(StepFailed, match="could not start"):
        CommandLoad(["/nonexistent/load"]).run({}, 1)
    # one that outlives its time is stopped, which is no failure
    assert CommandLoad(["sleep", "30"]).run({}, 0.3).exit_code is None
