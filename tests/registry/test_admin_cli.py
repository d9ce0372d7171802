"""``imageforge registry user|project|member|robot|audit`` on a serving registry's data
directory: changes take effect on the running server at once."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from imageforge.oci import digest_bytes
from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.registry.test_roles import team  # noqa: F401 - fixture

__all__ = ["team"]


def _cli(srv: Server, *args: str, stdin: str | None = None) -> str:
    r = run_cli(["registry", *args, "--data-dir", str(srv.data_dir)], stdin_text=stdin)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_users_projects_members_robots_and_audit_from_the_cli(team: Server) -> None:
    _cli(team, "user", "add", "zed", "--password-stdin", stdin="zed-password\n")
    _cli(team, "project", "add", "web", "--immutable", "v*")
    _cli(team, "member", "set", "web", "zed", "developer")
    users = json.loads(_cli(team, "user", "list", "--format", "json"))
    assert {"name": "zed", "admin": False} in users
    projects = json.loads(_cli(team, "project", "list", "--format", "json"))
    assert {"name": "web", "public": False, "immutable_tags": ["v*"]} in projects
    assert "zed" in _cli(team, "member", "list", "web") and "developer" in _cli(
        team, "member", "list", "web"
    )
    data = b"from zed"
    with team.client("zed", "zed-password") as zed:
        r = zed.post(
            "/v2/web/a/blobs/uploads/", params={"digest": digest_bytes(data)}, content=data
        )
        assert r.status_code == 201

    robot = json.loads(
        _cli(
            team,
            "robot",
            "add",
            "web",
            "ci",
            "--action",
            "pull",
            "--expires-in",
            "1d",
            "--format",
            "json",
        )
    )
    assert robot["name"] == "robot$web+ci" and robot["actions"] == "pull" and robot["secret"]
    with team.client(robot["name"], robot["secret"]) as bot:
        r = bot.post(
            "/v2/web/a/blobs/uploads/", params={"digest": digest_bytes(b"x")}, content=b"x"
        )
        assert r.status_code == 403
        assert bot.get(f"/v2/web/a/blobs/{digest_bytes(data)}").status_code == 200
    assert "robot$web+ci" in _cli(team, "robot", "list", "web")
    _cli(team, "robot", "rm", "web", "ci")
    assert (
        httpx.get(
            f"{team.url}/v2/web/a/tags/list", auth=(robot["name"], robot["secret"])
        ).status_code
        == 401
    )

    log = json.loads(_cli(team, "audit", "--result", "refused", "--format", "json"))
    assert any(e["user"] == "robot$web+ci" and e["action"] == "push" for e in log)
    table = _cli(team, "audit", "--user", "robot$web+ci")
    assert "TIME" in table and "127.0.0.1" in table and "refused" in table


def test_cli_errors_are_clear(tmp_path: Path, team: Server) -> None:
    no_db = {"IMAGEFORGE_REGISTRY_DB": ""}  # SQLite: the data directory must exist
    r = run_cli(["registry", "user", "list", "--data-dir", str(tmp_path / "none")], env=no_db)
    assert r.returncode != 0 and "is not a registry data directory" in r.stderr
    r = run_cli(
        ["registry", "member", "set", "team", "nobody", "guest", "--data-dir", str(team.data_dir)]
    )
    assert r.returncode != 0 and "user nobody does not exist" in r.stderr
    r = run_cli(
        ["registry", "member", "set", "team", "dev", "owner", "--data-dir", str(team.data_dir)]
    )
    assert r.returncode == 2
    r = run_cli(
        [
            "registry",
            "robot",
            "add",
            "team",
            "x",
            "--action",
            "pull",
            "--expires-in",
            "soon",
            "--data-dir",
            str(team.data_dir),
        ]
    )
    assert r.returncode == 2 and "is not a duration" in r.stderr
    assert team.meta().robots("team") == []  # nothing stored, nothing damaged


def test_every_change_answers_json_with_what_it_did(team: Server) -> None:
    """The admin commands that change something print, with ``--format json``, one
    object saying what changed (and nothing on stdout without it)."""

    def js(*args: str, stdin: str | None = None) -> object:
        return json.loads(_cli(team, *args, "--format", "json", stdin=stdin))

    assert js("user", "add", "ann", "--password-stdin", stdin="ann-password\n") == {
        "user": "ann",
        "admin": False,
    }
    assert js("project", "add", "web", "--immutable", "v*") == {
        "project": "web",
        "public": False,
        "immutable_tags": ["v*"],
    }
    assert js("project", "immutable", "web", "rel-*") == {
        "project": "web",
        "immutable_tags": ["rel-*"],
    }
    assert js("member", "set", "web", "ann", "developer") == {
        "project": "web",
        "user": "ann",
        "role": "developer",
    }
    robot = js("robot", "add", "web", "ci", "--action", "pull")
    assert isinstance(robot, dict)
    assert js("robot", "rm", "web", "ci") == {"deleted": robot["name"]}
    assert js("member", "rm", "web", "ann") == {"project": "web", "removed": "ann"}
    assert js("project", "rm", "web") == {"deleted": "web", "repositories": []}
    assert js("user", "rm", "ann") == {"deleted": "ann"}
    assert _cli(team, "user", "add", "bob", "--password-stdin", stdin="bob-password\n") == ""
