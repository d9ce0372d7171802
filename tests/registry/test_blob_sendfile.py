"""Large blob GETs: sent by the kernel (``sendfile``) over plain HTTP, byte-exact whole
and in ranges, to curl, to skopeo and to a client that goes away half-way."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from imageforge.oci import media
from imageforge.registry import RegistryState
from imageforge.registry._http import header_timeout_protocol
from imageforge.registry.api import create_app
from tests.conftest import need_binary
from tests.registry.conftest import ADMIN_PASSWORD, Server, make_server, serving_app, skopeo
from tests.registry.test_cli import _self_signed

SIZE = 64 << 20
REPO = "library/big"
BASIC = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def big_blob() -> tuple[bytes, str]:
    data = os.urandom(SIZE)
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def _push(c: httpx.Client, data: bytes, digest: str) -> None:
    """The blob, as the only layer of image ``REPO:1``."""
    config = b'{"architecture":"amd64","os":"linux"}'
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    for body, d in ((config, config_digest), (data, digest)):
        r = c.post(f"/v2/{REPO}/blobs/uploads/", params={"digest": d}, content=body)
        assert r.status_code == 201, r.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {"mediaType": media.OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": media.OCI_LAYER_GZIP, "digest": digest, "size": len(data)}],
    }
    r = c.put(
        f"/v2/{REPO}/manifests/1",
        content=json.dumps(manifest).encode(),
        headers={"Content-Type": media.OCI_MANIFEST},
    )
    assert r.status_code == 201, r.text


def _curl(url: str, out: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    args = [need_binary("curl"), "-sS", "-f", "-u", f"admin:{ADMIN_PASSWORD}", "-o", str(out)]
    for header in headers:
        args += ["-H", header]
    return subprocess.run(
        [*args, "-w", "%{http_code}", url], capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_a_large_blob_reaches_curl_and_skopeo_whole_and_in_ranges(
    tmp_path: Path, big_blob: tuple[bytes, str]
) -> None:
    data, digest = big_blob
    srv = make_server(tmp_path / "registry")
    srv.start()
    try:
        with srv.client() as c:
            _push(c, data, digest)
        url = f"{srv.url}/v2/{REPO}/blobs/{digest}"

        whole = _curl(url, tmp_path / "whole")
        assert whole.stdout == "200", whole.stderr
        got = (tmp_path / "whole").read_bytes()
        assert len(got) == SIZE and "sha256:" + hashlib.sha256(got).hexdigest() == digest

        middle = _curl(url, tmp_path / "middle", "Range: bytes=1000001-40000000")
        assert middle.stdout == "206", middle.stderr
        assert (tmp_path / "middle").read_bytes() == data[1000001:40000001]
        tail = _curl(url, tmp_path / "tail", "Range: bytes=-4097")
        assert tail.stdout == "206", tail.stderr
        assert (tmp_path / "tail").read_bytes() == data[-4097:]

        # a client that reads a little and hangs up does not hurt the next one
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(
                f"GET /v2/{REPO}/blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Basic {BASIC}\r\n\r\n".encode()
            )
            assert s.recv(1 << 20).startswith(b"HTTP/1.1 200")
        again = _curl(url, tmp_path / "again")
        assert again.stdout == "200" and (tmp_path / "again").read_bytes() == data

        out = tmp_path / "skopeo-dir"
        skopeo(
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            f"admin:{ADMIN_PASSWORD}",
            f"docker://{srv.host}/{REPO}:1",
            f"dir:{out}",
        )
        assert (out / digest.removeprefix("sha256:")).read_bytes() == data
    finally:
        srv.stop()


def test_blob_bytes_go_through_sendfile_not_through_python(
    opened: RegistryState, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    sent: list[int] = []
    real_sendfile = os.sendfile

    def sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        n = real_sendfile(out_fd, in_fd, offset, count)
        sent.append(n)
        return n

    with serving_app(create_app(opened), http=header_timeout_protocol(20)) as url:
        with httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=60) as c:
            _push(c, data, digest)
            monkeypatch.setattr(os, "sendfile", sendfile)
            whole = c.get(f"/v2/{REPO}/blobs/{digest}")
            assert whole.status_code == 200 and whole.content == data
            assert sum(sent) == len(data)
            part = c.get(f"/v2/{REPO}/blobs/{digest}", headers={"Range": "bytes=5-1048580"})
            assert part.status_code == 206 and part.content == data[5:1048581]
            assert sum(sent) == len(data) + 1048576
            head = c.head(f"/v2/{REPO}/blobs/{digest}")
            assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
            assert sum(sent) == len(data) + 1048576


def test_over_tls_blobs_are_streamed_whole_and_in_ranges(tmp_path: Path) -> None:
    """TLS needs the bytes in the process to encrypt them: no sendfile, same answers."""
    data = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    srv = Server(tmp_path / "data", None, tls=_self_signed(tmp_path))
    srv.start()
    try:
        with srv.client() as c:
            _push(c, data, digest)
            whole = c.get(f"/v2/{REPO}/blobs/{digest}")
            assert whole.status_code == 200 and whole.content == data
            part = c.get(f"/v2/{REPO}/blobs/{digest}", headers={"Range": "bytes=7-2000000"})
            assert part.status_code == 206 and part.content == data[7:2000001]
    finally:
        srv.stop()
