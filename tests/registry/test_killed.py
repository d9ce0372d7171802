"""Nothing is left behind after kills (#33 item 3): a push whose server is killed with
SIGKILL mid-upload leaves its partial data, ingest directory and ``uploads`` row, which
``registry gc --grace 0`` removes (and a default gc, whose grace the session is within,
keeps); a gc killed between moving a blob to its trash and deleting it leaves a file the
next gc finishes, restoring it if something links the blob again."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from imageforge.oci import Digest, digest_bytes
from imageforge.registry.storage import FsBlobStorage
from tests.conftest import imageforge_cmd, need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, make_server
from tests.registry.test_api import _image, _put, _upload
from tests.registry.test_gc import _blobs_of, _pullable


def _gc(srv: Server, *args: str) -> dict[str, Any]:
    r = run_cli(["registry", "gc", "--data-dir", str(srv.data_dir), "--format", "json", *args])
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def _leftovers(srv: Server) -> list[str]:
    """The files under the storage that are neither blobs nor the gc lock."""
    storage = srv.data_dir / "storage"
    return sorted(
        str(p.relative_to(storage))
        for p in storage.rglob("*")
        if p.is_file() and p.parts[len(storage.parts)] != "blobs" and p.name != "gc.lock"
    )


def _blobs(srv: Server) -> set[str]:
    return {str(info.digest) for info in FsBlobStorage(srv.data_dir).walk()}


def _ingested(srv: Server) -> int:
    """Bytes in the data files of every ingest."""
    ingest = srv.data_dir / "storage" / "ingest"
    return sum(p.stat().st_size for p in ingest.glob("*/data"))


def _kill_mid_patch(srv: Server, location: str, sent: int) -> None:
    """PATCH a 64 MiB chunk to ``location``, send ``sent`` bytes of it and SIGKILL the
    server once half of those are on disk (the rest may be buffered on the way)."""
    assert srv.proc is not None
    auth = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    head = (
        f"PATCH {urlsplit(location).path} HTTP/1.1\r\nHost: {srv.host}\r\n"
        f"Authorization: Basic {auth}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {64 << 20}\r\n\r\n"
    )
    target = _ingested(srv) + sent // 2
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(head.encode())
        sock.sendall(b"k" * sent)
        deadline = time.monotonic() + 30
        while _ingested(srv) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _ingested(srv) >= target, "the server did not write what it was sent"
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=20)
    srv.proc = None


def test_gc_removes_what_pushes_killed_with_the_server_left(
    tmp_path: Path, registry_db: str | None
) -> None:
    srv = make_server(tmp_path / "registry")
    srv.start()
    try:
        with srv.client() as c:
            body = _image(c, "library/app", b"kept layer")
            assert _put(c, "library/app", "v1", body).status_code == 201
            kept = {str(digest_bytes(body)), *_blobs_of(body)}
            # two pushes cut short: one server killed in the middle of a chunk, another
            # with a chunk written and the session waiting for the next when it is killed
            cut = c.post("/v2/library/app/blobs/uploads/").headers["location"]
            waiting = c.post("/v2/library/app/blobs/uploads/").headers["location"]
            assert c.patch(waiting, content=b"w" * (1 << 20)).status_code == 202
        _kill_mid_patch(srv, cut, 4 << 20)
        srv.start()
        assert _ingested(srv) >= 3 << 20 and len(_leftovers(srv)) >= 2
        assert len(srv.meta().uploads_started_before(time.time() + 60)) == 2

        # within the grace period (default 1h) the sessions may still be live: kept
        default = _gc(srv)
        assert default["uploads"] == [] and _ingested(srv) >= 3 << 20

        report = _gc(srv, "--grace", "0")
        ids = {urlsplit(loc).path.rsplit("/", 1)[1] for loc in (cut, waiting)}
        assert set(report["uploads"]) == ids
        assert _leftovers(srv) == []
        assert srv.meta().uploads_started_before(time.time() + 60) == []
        assert _blobs(srv) == kept
        with srv.client() as c:
            assert _pullable(c, "library/app", "v1")
            r = c.patch(cut, content=b"more")
            assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
            # and pushes go on as before
            again = _image(c, "library/app", b"another layer")
            assert _put(c, "library/app", "v2", again).status_code == 201
    finally:
        srv.stop()


def _gc_killed_before_delete(srv: Server) -> subprocess.CompletedProcess[str]:
    """A gc that SIGKILLs itself at its first unlink: the first blob it collects is in
    its trash, not yet deleted (strace delivers the signal at that system call)."""
    need_binary("strace")
    args = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=unlink,unlinkat"]
    args += ["-e", "inject=unlink,unlinkat:signal=SIGKILL:when=1"]
    args += [*imageforge_cmd(), "registry", "gc", "--data-dir", str(srv.data_dir)]
    args += ["--grace", "0"]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _trash(srv: Server) -> list[Path]:
    return sorted((srv.data_dir / "storage" / "gc-trash").iterdir())


@pytest.mark.parametrize("meanwhile", ["nothing", "pushed again", "linked before the move"])
def test_a_killed_gc_leaves_nothing_the_next_one_cannot_finish(
    server: Server, meanwhile: str
) -> None:
    with server.client() as c:
        body = _image(c, "library/app", b"kept layer")
        assert _put(c, "library/app", "v1", body).status_code == 201
        kept = {str(digest_bytes(body)), *_blobs_of(body)}
        strays = {_upload(c, "library/app", f"stray {i}".encode()): i for i in range(3)}

    killed = _gc_killed_before_delete(server)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (trashed,) = _trash(server)
    digest = next(d for d in strays if Digest(d).hex in trashed.name)
    content = f"stray {strays[digest]}".encode()
    assert digest not in _blobs(server)  # unreachable until finished

    with server.client() as c:
        if meanwhile == "pushed again":  # a push of the same layer stores it anew
            layer_of = _image(c, "library/app", content)
            assert _put(c, "library/app", "v2", layer_of).status_code == 201
        elif meanwhile == "linked before the move":
            # A push linked the blob after the killed gc had unlinked it and before the
            # move, so it saw the file present; the kill came before the gc looked again.
            server.meta().link_blob("library/app", Digest(digest))
        report = _gc(server, "--grace", "10m")
        assert _trash(server) == []
        if meanwhile == "linked before the move":
            assert report["trash"] == [f"{trashed.name} restored"]
            assert c.get(f"/v2/library/app/blobs/{digest}").content == content
        else:
            assert report["trash"] == [f"{trashed.name} deleted"]
        if meanwhile == "pushed again":
            assert _pullable(c, "library/app", "v2")
        if meanwhile == "nothing":
            assert _blobs(server) == kept | (set(strays) - {digest})
        assert _pullable(c, "library/app", "v1")


def test_one_gc_at_a_time(server: Server) -> None:
    """A second gc while one runs is refused, so neither takes the other's trash."""
    storage = FsBlobStorage(server.data_dir)
    with storage.gc_lock():
        r = run_cli(["registry", "gc", "--data-dir", str(server.data_dir), "--grace", "0"])
    assert r.returncode == 5, r.stderr
    assert f"another garbage collection is running on {server.data_dir}" in r.stderr
