"""Project roles, robot accounts and the audit log, through real HTTP clients."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.oci import digest_bytes
from imageforge.registry.auth import create_robot
from imageforge.registry.meta import AuditRow, MetaStore
from tests.registry.conftest import Server, make_server

CONFIG = """
[[users]]
name = "gina"
password_env = "GINA_PW"
[[users]]
name = "dev"
password_env = "DEV_PW"
[[users]]
name = "maya"
password_env = "MAYA_PW"
[[users]]
name = "pam"
password_env = "PAM_PW"

[[projects]]
name = "team"
members = { gina = "guest", dev = "developer", maya = "maintainer", pam = "admin" }

[[projects]]
name = "other"
"""
PASSWORDS = {"gina": "g-pw", "dev": "d-pw", "maya": "m-pw", "pam": "p-pw"}


@pytest.fixture
def team(tmp_path: Path, registry_db: str | None) -> Iterator[Server]:
    env = {f"{u.upper()}_PW": pw for u, pw in PASSWORDS.items()}
    srv = make_server(tmp_path / "registry", CONFIG, env=env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _client(srv: Server, user: str) -> httpx.Client:
    return srv.client(user, PASSWORDS[user])


def _meta(srv: Server) -> MetaStore:
    return srv.meta()


def _push_blob(c: httpx.Client, repo: str, data: bytes = b"blob") -> httpx.Response:
    return c.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest_bytes(data)}, content=data)


def _token(srv: Server, auth: tuple[str, str] | None, scope: str) -> str:
    r = httpx.get(f"{srv.url}/token", params={"scope": scope}, auth=auth)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _refusals(srv: Server, user: str | None) -> list[AuditRow]:
    return [a for a in _meta(srv).audit(result="refused") if a.user == user]


def test_guest_pulls_but_cannot_push_and_the_refusal_is_audited(team: Server) -> None:
    with _client(team, "dev") as dev:
        assert _push_blob(dev, "team/app").status_code == 201
    with _client(team, "gina") as guest:
        r = _push_blob(guest, "team/app", b"mine")
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
        d = digest_bytes(b"blob")
        assert guest.get(f"/v2/team/app/blobs/{d}").status_code == 200
    # through the token flow the guest gets pull only; pushing with it is refused
    token = _token(team, ("gina", "g-pw"), "repository:team/app:pull,push")
    r = httpx.post(
        f"{team.url}/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    refused = _refusals(team, "gina")
    assert [(a.action, a.repo) for a in refused] == [("push", "team/app")] * 3
    assert {a.detail for a in refused} >= {"token"}
    assert all(a.remote == "127.0.0.1" and abs(a.time - time.time()) < 60 for a in refused)


def test_each_role_does_what_it_may_and_no_more(team: Server) -> None:
    with _client(team, "dev") as dev:
        assert _push_blob(dev, "team/app").status_code == 201
        d = digest_bytes(b"blob")
        assert dev.delete(f"/v2/team/app/blobs/{d}").status_code == 403
        assert _push_blob(dev, "other/app").status_code == 403
        assert dev.get("/v2/_catalog").status_code == 403
    with _client(team, "maya") as maya:
        assert maya.delete(f"/v2/team/app/blobs/{d}").status_code == 202
        assert _push_blob(maya, "other/app").status_code == 403
    with _client(team, "pam") as pam:
        assert _push_blob(pam, "team/app").status_code == 201
        assert _push_blob(pam, "other/app").status_code == 403
    with team.client() as admin:  # system admin
        assert _push_blob(admin, "other/app").status_code == 201
    # a private project is invisible to anonymous clients
    assert httpx.get(f"{team.url}/v2/team/app/tags/list").status_code == 401


def test_robot_acts_only_inside_its_scope_and_until_it_expires(team: Server) -> None:
    meta = _meta(team)
    robot, secret = create_robot(meta, "team", "ci", frozenset({"pull", "push"}), 3600)
    assert robot.name == "robot$team+ci"
    with team.client(robot.name, secret) as bot:
        assert _push_blob(bot, "team/app").status_code == 201
        d = digest_bytes(b"blob")
        assert bot.delete(f"/v2/team/app/blobs/{d}").status_code == 403  # not in scope
        assert _push_blob(bot, "other/app").status_code == 403  # other project
        assert _push_blob(bot, "library/app").status_code == 403
    with team.client(robot.name, "wrong") as bad:
        assert _push_blob(bad, "team/app").status_code == 401
    token = _token(team, (robot.name, secret), "repository:team/app:pull,push")
    assert _token(team, (robot.name, secret), "repository:other/x:pull")  # empty grant
    bearer = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{team.url}/v2/team/app/blobs/uploads/", headers=bearer)
    assert r.status_code == 202
    # its expiry comes (set in the database, as an hour passing would)
    meta.add_robot(dataclasses.replace(robot, expires=time.time()))
    # expired: basic auth, a new token and the token issued before all fail
    with team.client(robot.name, secret) as bot:
        assert _push_blob(bot, "team/app", b"late").status_code == 401
    r = httpx.get(f"{team.url}/token", auth=(robot.name, secret))
    assert r.status_code == 401
    r = httpx.post(f"{team.url}/v2/team/app/blobs/uploads/", headers=bearer)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    refused = _refusals(team, robot.name)
    assert {(a.action, a.repo) for a in refused} >= {
        ("delete", "team/app"),
        ("push", "other/app"),
        ("pull", "other/x"),
        ("login", ""),
        ("push", "team/app"),
    }


def test_deleted_robot_is_refused_at_once(team: Server) -> None:
    meta = _meta(team)
    robot, secret = create_robot(meta, "team", "tmp", frozenset({"pull"}), None)
    token = _token(team, (robot.name, secret), "repository:team/app:pull")
    assert meta.delete_robot(robot.name)
    r = httpx.get(f"{team.url}/v2/team/app/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_audit_log_records_push_pull_delete_with_who_and_where(team: Server) -> None:
    from tests.registry.test_api import _image, _put

    with _client(team, "maya") as maya:
        body = _image(maya, "team/app")
        assert _put(maya, "team/app", "v1", body).status_code == 201
        assert maya.get("/v2/team/app/manifests/v1").status_code == 200
        assert maya.head("/v2/team/app/manifests/v1").status_code == 200
        assert maya.delete("/v2/team/app/manifests/v1").status_code == 202
    log = [(a.user, a.action, a.repo, a.ref, a.result) for a in _meta(team).audit()]
    assert log == [
        ("maya", "delete", "team/app", "v1", "ok"),
        ("maya", "pull", "team/app", "v1", "ok"),
        ("maya", "push", "team/app", "v1", "ok"),
    ]
    assert _meta(team).audit()[-1].detail == str(digest_bytes(body))


@pytest.mark.slow
def test_skopeo_robot_pushes_in_scope_and_a_guest_cannot(team: Server, hello_oci: Path) -> None:
    from tests.conftest import need_binary
    from tests.registry.conftest import skopeo

    need_binary("skopeo")
    robot, secret = create_robot(_meta(team), "team", "ci", frozenset({"pull", "push"}), 600)
    src = f"oci:{hello_oci}:1"
    creds = f"{robot.name}:{secret}"
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        src,
        f"docker://{team.host}/team/hello:1",
    )
    r = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        src,
        f"docker://{team.host}/other/hello:1",
        check=False,
    )
    assert r.returncode != 0
    r = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "gina:g-pw",
        src,
        f"docker://{team.host}/team/hello:2",
        check=False,
    )
    assert r.returncode != 0
    audit = _meta(team).audit()
    assert ("push", "team/hello", "1", "ok") in [
        (a.action, a.repo, a.ref, a.result) for a in audit if a.user == robot.name
    ]
    assert any(a.repo == "other/hello" for a in _refusals(team, robot.name))
    assert any(a.repo == "team/hello" and "push" in a.action for a in _refusals(team, "gina"))
