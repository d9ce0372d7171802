"""``vulndb update`` against a real HTTP server on loopback serving fixture files the way
osv.dev and the Debian tracker serve theirs: conditional requests, and a failed update
(an HTTP error, a truncated zip, a broken export, a server that goes away) leaving the
previous database in use."""

from __future__ import annotations

import email.utils
import hashlib
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from imageforge.errors import ImageforgeError
from imageforge.vuln import UpdateConfig, VulnDB, db_path, db_status, update
from tests.conftest import run_cli
from tests.vuln.conftest import DATA


class _Files:
    """What the server serves: path -> bytes (or an HTTP status), and what it was asked."""

    def __init__(self) -> None:
        self.content: dict[str, bytes | int] = {}
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.stamp = email.utils.formatdate(1_700_000_000, usegmt=True)


def _handler(files: _Files) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            files.requests.append(
                (
                    self.path,
                    self.headers.get("If-None-Match"),
                    self.headers.get("If-Modified-Since"),
                )
            )
            body = files.content.get(self.path, 404)
            if isinstance(body, int):
                self.send_response(body)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", files.stamp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, _Files]]:
    files = _Files()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    finally:
        httpd.shutdown()
        httpd.server_close()


def _zip(directory: Path) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(directory.glob("*.json")):
            z.writestr(p.name, p.read_bytes())
    return buf.getvalue()


def _serve_all(files: _Files) -> None:
    files.content["/osv/Go/all.zip"] = _zip(DATA / "osv" / "golang-vulndb")
    files.content["/osv/crates.io/all.zip"] = _zip(DATA / "osv" / "rustsec")
    files.content["/debian/json"] = (DATA / "debian" / "tracker-export.json").read_bytes()


def _config(base: str) -> UpdateConfig:
    return UpdateConfig(
        osv_url=f"{base}/osv",
        ecosystems=("Go", "crates.io"),
        debian_url=f"{base}/debian/json",
        timeout=10,
    )


def _ids(root: Path) -> set[str]:
    with VulnDB.open(root) as db:
        return {i for _s, i in db.advisory_ids()}


def test_update_downloads_every_source_and_swaps_in_the_database(
    tmp_path: Path, server: tuple[str, _Files]
) -> None:
    base, files = server
    _serve_all(files)
    warnings: list[str] = []
    sources = update(tmp_path, _config(base), warnings.append)
    assert {s.name: s.advisories for s in sources} == {
        "osv.dev:Go": 3,
        "osv.dev:crates.io": 2,
        "debian-tracker-json:download": 4,
    }
    assert [w for w in warnings if "broken-entry" not in w] == []
    assert {"GO-2023-1704", "RUSTSEC-2020-0071", "CVE-2023-38545"} <= _ids(tmp_path)
    status = db_status(tmp_path)
    assert status.exists and not status.stale and status.advisories == 9
    assert all(s.etag and s.last_modified for s in status.sources)


def test_a_second_update_asks_conditionally_and_keeps_unchanged_sources(
    tmp_path: Path, server: tuple[str, _Files]
) -> None:
    base, files = server
    _serve_all(files)
    update(tmp_path, _config(base), lambda _m: None)
    files.requests.clear()
    files.content["/osv/crates.io/all.zip"] = _zip(DATA / "osv" / "github")  # this one changed
    sources = {s.name: s for s in update(tmp_path, _config(base), lambda _m: None)}
    assert all(etag is not None and since == files.stamp for _p, etag, since in files.requests)
    assert sources["osv.dev:Go"].advisories == 3  # 304: kept as it was
    ids = _ids(tmp_path)
    assert "GO-2023-1704" in ids and "CVE-2023-38545" in ids
    assert (
        "RUSTSEC-2020-0071" not in ids and "GHSA-jf85-cpcp-j695" in ids
    )  # replaced (github records under that name now)


@pytest.mark.parametrize(
    "breakage",
    ["http-500", "missing", "truncated-zip", "broken-json", "not-a-zip"],
)
def test_a_failed_update_leaves_the_previous_database_in_use(
    tmp_path: Path, server: tuple[str, _Files], breakage: str
) -> None:
    base, files = server
    _serve_all(files)
    update(tmp_path, _config(base), lambda _m: None)
    before = db_path(tmp_path).read_bytes()
    reader = VulnDB.open(tmp_path)  # a scan in progress
    files.content["/osv/Go/all.zip"] = _zip(DATA / "osv" / "github")  # a good change, not applied
    if breakage == "http-500":
        files.content["/osv/crates.io/all.zip"] = 500
    elif breakage == "missing":
        files.content["/debian/json"] = 404
    elif breakage == "truncated-zip":
        data = _zip(DATA / "osv" / "rustsec")
        files.content["/osv/crates.io/all.zip"] = data[: len(data) // 2]
    elif breakage == "broken-json":
        files.content["/debian/json"] = b'{"curl": {"CVE-2023-38545": {"releases": '
    else:
        files.content["/osv/crates.io/all.zip"] = b"<html>captive portal</html>"
    with pytest.raises(ImageforgeError) as err:
        update(tmp_path, _config(base), lambda _m: None)
    assert (
        err.value.hint is not None
        and "previous vulnerability database is still in use" in err.value.hint
    )
    assert db_path(tmp_path).read_bytes() == before
    assert list((tmp_path / "vulndb").glob(".*tmp")) == []  # nothing left behind
    assert list((tmp_path / "vulndb").glob(".update-*")) == []
    assert reader.lookup("Go", "stdlib")  # the open reader still reads
    reader.close()


def test_a_reader_keeps_its_database_while_an_update_swaps_in_a_new_one(
    tmp_path: Path, server: tuple[str, _Files]
) -> None:
    base, files = server
    _serve_all(files)
    update(tmp_path, _config(base), lambda _m: None)
    reader = VulnDB.open(tmp_path)
    files.content["/osv/Go/all.zip"] = _zip(DATA / "osv" / "pypa")  # no JSON: an empty zip
    files.content["/osv/Go/all.zip"] = _zip(DATA / "osv" / "github")
    update(tmp_path, _config(base), lambda _m: None)
    assert [r.id for r in reader.lookup("Go", "stdlib")]  # the old file, still whole
    reader.close()
    with VulnDB.open(tmp_path) as fresh:
        assert fresh.lookup("Go", "stdlib") == []


def test_an_unreachable_server_fails_the_update_cleanly(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(ImageforgeError, match="downloading http://127.0.0.1"):
        update(tmp_path, _config(f"http://127.0.0.1:{port}"), lambda _m: None)
    assert not db_path(tmp_path).exists()


def test_a_database_that_is_not_one_is_refused_with_a_hint(tmp_path: Path) -> None:
    db_path(tmp_path).parent.mkdir(parents=True)
    db_path(tmp_path).write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ImageforgeError) as err:
        VulnDB.open(tmp_path)
    assert err.value.hint is not None and "vulndb update" in err.value.hint
    sqlite3.connect(":memory:").close()


def test_vulndb_cli_update_and_status(tmp_path: Path, server: tuple[str, _Files]) -> None:
    base, files = server
    _serve_all(files)
    root = tmp_path / "root"
    proc = run_cli(
        [
            "--root",
            str(root),
            "vulndb",
            "update",
            "--osv-url",
            f"{base}/osv",
            "--ecosystem",
            "Go",
            "--debian-url",
            f"{base}/debian/json",
            "--format",
            "json",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {base}/debian/json: package 'broken-entry'" in proc.stderr
    status = run_cli(["--root", str(root), "vulndb", "status"])
    assert (
        status.returncode == 0 and "osv.dev:Go" in status.stdout and "advisories" in status.stdout
    )
    files.content["/osv/Go/all.zip"] = 503
    failed = run_cli(
        [
            "--root",
            str(root),
            "vulndb",
            "update",
            "--osv-url",
            f"{base}/osv",
            "--ecosystem",
            "Go",
            "--no-debian",
        ]
    )
    assert failed.returncode == 10  # unavailable
    assert "error: downloading" in failed.stderr and "HTTP 503" in failed.stderr
    assert "hint: the previous vulnerability database is still in use" in failed.stderr
