"""Scale-out: registry processes sharing one PostgreSQL database (``--db``) and one data
directory serve each other's pushes, and the admin CLI works on the same database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.registry.meta import MetaStore
from tests.conftest import need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, Server, skopeo
from tests.registry.test_api import _image, _put

CREDS = f"admin:{ADMIN_PASSWORD}"


@pytest.fixture
def pair(tmp_path: Path, postgres: PgCluster) -> Iterator[tuple[Server, Server, str]]:
    """Two servers, one database, one data directory."""
    url = postgres.new_database()
    data = tmp_path / "registry" / "data"
    data.parent.mkdir(parents=True)
    env = {"IMAGEFORGE_REGISTRY_DB": url}
    a, b = Server(data, None, env=env), Server(data, None, env=env)
    try:
        a.start()
        b.start()
        yield a, b, url
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
def test_two_processes_serve_each_others_pushes(
    pair: tuple[Server, Server, str], hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    a, b, url = pair
    assert not (a.data_dir / "meta.db").exists()  # the metadata is in PostgreSQL only
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        CREDS,
        f"oci:{hello_oci}:1",
        f"docker://{a.host}/library/hello:1",
    )
    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{b.host}/library/hello:1",
        f"oci:{tmp_path / 'back'}:1",
    )
    pushed = json.loads((hello_oci / "index.json").read_text())["manifests"][0]["digest"]
    back = json.loads((tmp_path / "back" / "index.json").read_text())["manifests"][0]["digest"]
    assert back == pushed

    # and the other way round, over plain HTTP clients (tokens from either server)
    with b.client() as cb, a.client() as ca:
        body = _image(cb, "library/app", b"pushed to b")
        assert _put(cb, "library/app", "v1", body).status_code == 201
        r = ca.get(
            "/v2/library/app/manifests/v1", headers={"Accept": json.loads(body)["mediaType"]}
        )
        assert r.status_code == 200 and r.content == body
        assert ca.get("/v2/library/app/tags/list").json()["tags"] == ["v1"]
        digest = r.headers["Docker-Content-Digest"]
        assert cb.delete(f"/v2/library/app/manifests/{digest}").status_code == 202
        assert ca.get("/v2/library/app/manifests/v1").status_code == 404

    # the admin CLI and the audit log see both processes' work
    cli = run_cli(["registry", "audit", "--db", url, "--format", "json", "--repo", "library/hello"])
    assert cli.returncode == 0, cli.stderr
    actions = {row["action"] for row in json.loads(cli.stdout)}
    assert {"push", "pull"} <= actions
    with MetaStore(url) as meta:
        assert meta.backend == "postgresql" and meta.tags("library/hello", None, None) == ["1"]


def test_admin_cli_and_config_take_the_database_url(tmp_path: Path, postgres: PgCluster) -> None:
    url = postgres.new_database()
    data = tmp_path / "registry" / "data"
    data.parent.mkdir(parents=True)
    config = tmp_path / "registry.toml"
    config.write_text(f'[registry]\ndb = "{url}"\n')
    srv = Server(data, config)
    srv.start()
    try:
        r = run_cli(
            ["registry", "user", "add", "alice", "--password-stdin", "--db", url],
            stdin_text="pw-alice\n",
        )
        assert r.returncode == 0, r.stderr
        with srv.client("alice", "pw-alice") as c:
            assert c.get("/v2/").status_code == 200  # the server sees the CLI's user
    finally:
        srv.stop()
    r = run_cli(["registry", "user", "list", "--db", url, "--format", "json"])
    assert r.returncode == 0, r.stderr
    assert [u["name"] for u in json.loads(r.stdout)] == ["admin", "alice"]


def test_bad_database_url_fails_clearly(tmp_path: Path) -> None:
    r = run_cli(
        ["registry", "serve", "--data-dir", str(tmp_path / "d"), "--db", "mysql://u:hunter2@h/x"]
    )
    assert r.returncode != 0
    assert "unsupported metadata database" in r.stderr and "hunter2" not in r.stderr
