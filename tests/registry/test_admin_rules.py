"""The admin commands (on the data directory) and the ``/api/v1/`` API (over HTTP)
keep the same rules: both go through the registry's management service."""

from __future__ import annotations

import httpx

from tests.conftest import run_cli
from tests.registry.conftest import Server

DENIED = 8  # the exit code of a Denied error (cli._exit)
USAGE = 2  # of an InvalidArgument


def _cli(srv: Server, *args: str, stdin: str | None = None) -> tuple[int, str]:
    r = run_cli(["registry", *args, "--data-dir", str(srv.data_dir)], stdin_text=stdin)
    return r.returncode, r.stderr


def _message(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["message"])


def test_what_the_api_refuses_the_cli_refuses_with_the_same_words(server: Server) -> None:
    long_name = "p" * 65
    with server.client() as admin:
        r = admin.delete("/api/v1/users/admin")
        assert r.status_code == 403 and _message(r) == "cannot delete user admin"
        r = admin.delete("/api/v1/projects/library")
        assert r.status_code == 403 and _message(r) == "the project library cannot be deleted"
        r = admin.post("/api/v1/projects", json={"name": "web", "immutable_tags": [""]})
        assert r.status_code == 400
        assert admin.post("/api/v1/projects", json={"name": long_name}).status_code == 400

    rc, err = _cli(server, "user", "rm", "admin")
    assert rc == DENIED and "cannot delete user admin" in err
    rc, err = _cli(server, "project", "rm", "library")
    assert rc == DENIED and "the project library cannot be deleted" in err
    rc, err = _cli(server, "project", "add", "web", "--immutable", "")
    assert rc == USAGE and "immutable tag rule '' is not a non-empty glob" in err
    rc, err = _cli(server, "project", "add", long_name)
    assert rc == USAGE and f"invalid project name {long_name!r}" in err
    rc, err = _cli(server, "user", "add", "eve", "--password-stdin", stdin="x" * 1025 + "\n")
    assert rc == USAGE and "the password is longer than 1024 characters" in err

    # nothing was changed by any of them
    with server.client() as admin:
        assert [u["name"] for u in admin.get("/api/v1/users").json()] == ["admin"]
        assert [p["name"] for p in admin.get("/api/v1/projects").json()] == ["library"]


def test_a_robot_is_deleted_only_from_its_own_project(server: Server) -> None:
    with server.client() as admin:
        assert admin.post("/api/v1/projects", json={"name": "team"}).status_code == 201
        r = admin.post("/api/v1/projects/team/robots", json={"name": "ci", "actions": ["pull"]})
        assert r.status_code == 201
        r = admin.delete("/api/v1/projects/library/robots/robot$team+ci")
        assert r.status_code == 404 and _message(r) == "robot robot$team+ci does not exist"
    rc, err = _cli(server, "robot", "rm", "library", "robot$team+ci")
    assert rc == 3 and "robot robot$team+ci does not exist" in err
    assert [r.name for r in server.meta().robots("team")] == ["robot$team+ci"]
