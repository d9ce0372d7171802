"""Storage quotas per project (Harbor's): each blob and manifest counted once per project,
a push that would pass the quota refused with DENIED and nothing of it linked, usage and
state in the API and the admin CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.conftest import need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, skopeo
from tests.registry.test_api import _image, _put, _upload

CREDS = f"admin:{ADMIN_PASSWORD}"


def _layout_blobs(layout: Path, tag: str = "1") -> dict[str, int]:
    """The blobs (manifest, config, layers) of ``tag`` in an OCI layout, with sizes."""
    index = json.loads((layout / "index.json").read_text())
    [desc] = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"][7:]).read_bytes())
    found = {desc["digest"]: desc["size"], manifest["config"]["digest"]: manifest["config"]["size"]}
    found.update({layer["digest"]: layer["size"] for layer in manifest["layers"]})
    return found


def _random_layout(tmp_path: Path, size: int) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "data.bin").write_bytes(os.urandom(size))
    root, layout = tmp_path / "root", tmp_path / "big"
    for args in (
        ["import", f"rootfs:{tree}", "-t", "big:1"],
        ["export", "big:1", f"oci:{layout}:1"],
    ):
        r = run_cli(["--root", str(root), *args])
        assert r.returncode == 0, r.stderr
    return layout


def _push(src: Path, dest: str, check: bool = True) -> str:
    r = skopeo(
        "copy", "--dest-tls-verify=false", "--dest-creds", CREDS, f"oci:{src}:1", dest, check=check
    )
    return r.stderr if r.returncode else ""


def _usage(c: httpx.Client, project: str = "q") -> dict[str, object]:
    r = c.get(f"/api/v1/projects/{project}/quota")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert isinstance(doc, dict)
    return doc


@pytest.mark.slow
def test_a_push_over_quota_is_refused_and_leaves_nothing_linked(
    server: Server, hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    hello = _layout_blobs(hello_oci)
    used = sum(hello.values())
    big_layout = _random_layout(tmp_path, 300_000)
    big = _layout_blobs(big_layout)
    base = f"docker://{server.host}/q"
    with server.client() as c:
        assert c.post("/api/v1/projects", json={"name": "q"}).status_code == 201
        assert _usage(c) == {
            "project": "q", "limit": None, "warn_percent": None,
            "used": 0, "blobs": 0, "state": "ok",
        }  # fmt: skip
        _push(hello_oci, f"{base}/hello:1")
        assert (_usage(c)["used"], _usage(c)["blobs"]) == (used, len(hello))
        _push(hello_oci, f"{base}/again:1")  # the same blobs in a second repository
        assert _usage(c)["used"] == used

        r = c.put("/api/v1/projects/q/quota", json={"limit": used})
        assert r.status_code == 200 and r.json()["state"] == "warning"  # at 100% >= 80%
        error = _push(big_layout, f"{base}/big:1", check=False)
        assert "over its storage quota" in error, error
        assert f"uses {used} of {used} bytes" in error
        for digest in big:
            assert c.head(f"/v2/q/big/blobs/{digest}").status_code == 404
        assert c.get("/v2/q/big/manifests/1").status_code == 404
        assert _usage(c)["used"] == used
        _push(hello_oci, f"{base}/third:1")  # nothing new to the project: still allowed

        r = c.put("/api/v1/projects/q/quota", json={"limit": used + 10 * sum(big.values())})
        assert r.json()["state"] == "ok"
        _push(big_layout, f"{base}/big:1")
        assert _usage(c)["used"] == used + sum(big.values())
        r = c.delete("/api/v1/projects/q/quota")
        assert r.status_code == 200 and r.json()["limit"] is None
        details = {e["detail"] for e in c.get("/api/v1/audit", params={"repository": "q"}).json()}
        assert f"set quota {used} bytes" in details and "remove quota" in details


def test_manifests_and_mounts_count_and_are_refused_too(server: Server) -> None:
    with server.client() as c:
        assert c.post("/api/v1/projects", json={"name": "q"}).status_code == 201
        assert c.post("/api/v1/projects", json={"name": "other"}).status_code == 201
        body = _image(c, "q/app", b"L" * 1000)
        assert _put(c, "q/app", "1", body).status_code == 201
        used = _usage(c)["used"]
        config = b'{"architecture":"amd64","os":"linux"}'  # _image's
        assert used == 1000 + len(body) + len(config)
        # a blob of another project mounted in: new to q, so it counts and is checked
        foreign = _upload(c, "other/x", b"F" * 5000)
        assert c.put("/api/v1/projects/q/quota", json={"limit": used + 100}).status_code == 200
        r = c.post("/v2/q/app/blobs/uploads/", params={"mount": foreign, "from": "other/x"})
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
        assert c.head(f"/v2/q/app/blobs/{foreign}").status_code == 404
        # a manifest alone can pass it: its blobs are there, the manifest itself is new
        again = json.loads(body)
        again["annotations"] = {"pad": "x" * 200}
        r = _put(c, "q/app", "2", json.dumps(again).encode())
        assert r.status_code == 403 and "over its storage quota" in r.json()["errors"][0]["message"]
        assert c.get("/v2/q/app/manifests/2").status_code == 404
        assert _usage(c)["used"] == used


def test_who_may_see_and_set_a_quota_and_bad_values(server: Server) -> None:
    with server.client() as c:
        assert c.post("/api/v1/projects", json={"name": "q"}).status_code == 201
        assert (
            c.post("/api/v1/users", json={"name": "dev", "password": "dev-pass-1"}).status_code
            == 201
        )
        assert (
            c.put("/api/v1/projects/q/members/dev", json={"role": "developer"}).status_code == 200
        )
        for bad in ({"limit": -1}, {"limit": "1GB"}, {"limit": 10, "warn_percent": 0}, {}):
            r = c.put("/api/v1/projects/q/quota", json=bad)
            assert r.status_code == 400, (bad, r.text)
        assert c.put("/api/v1/projects/nope/quota", json={"limit": 1}).status_code == 404
    with server.client("dev", "dev-pass-1") as dev:
        assert dev.get("/api/v1/projects/q/quota").status_code == 200
        assert dev.put("/api/v1/projects/q/quota", json={"limit": 1}).status_code == 403
    with server.client(None) as anonymous:  # a private project is not there for them
        assert anonymous.get("/api/v1/projects/q/quota").status_code == 404


def test_the_admin_cli_sets_shows_and_removes_a_quota(server: Server) -> None:
    def cli(*args: str) -> str:
        r = run_cli(["registry", "project", *args, "--data-dir", str(server.data_dir)])
        assert r.returncode == 0, r.stderr
        return r.stdout

    cli("add", "q")
    doc = json.loads(cli("quota", "q", "--limit", "1MiB", "--warn", "50", "--format", "json"))
    assert (doc["limit"], doc["warn_percent"], doc["state"]) == (1 << 20, 50, "ok")
    with server.client() as c:
        body = _image(c, "q/app", b"x" * 600_000)
        assert _put(c, "q/app", "1", body).status_code == 201
    table = cli("quota", "q")
    assert "1.05 MB" in table and "600 kB" in table and "warning" in table
    assert json.loads(cli("quota", "q", "--remove", "--format", "json"))["limit"] is None
    r = run_cli(
        ["registry", "project", "quota", "q", "--limit", "lots", "--data-dir", str(server.data_dir)]
    )
    assert r.returncode != 0 and "'lots' is not a size" in r.stderr


def test_sizes_an_older_registry_never_recorded_are_filled_in(
    server: Server, registry_db: str | None
) -> None:
    with server.client() as c:
        assert c.post("/api/v1/projects", json={"name": "q"}).status_code == 201
        body = _image(c, "q/app", b"y" * 4000)
        assert _put(c, "q/app", "1", body).status_code == 201
        used = _usage(c)["used"]
    if registry_db is None:  # as a registry of the version before quotas left it
        with sqlite3.connect(server.data_dir / "meta.db") as db:
            db.execute("DELETE FROM blob_sizes")
    else:
        import psycopg

        with psycopg.connect(registry_db, autocommit=True) as conn:
            conn.execute("DELETE FROM blob_sizes")
    with server.client() as c:
        assert _usage(c)["used"] == used
