"""The ``/api/v1/`` management API over real HTTP: users, projects, members, robots,
audit log and listings, and who may do which."""

from __future__ import annotations

import httpx

from imageforge.oci import digest_bytes
from tests.registry.conftest import Server
from tests.registry.test_api import _image, _put
from tests.registry.test_roles import PASSWORDS, _client, team  # noqa: F401 - fixture

__all__ = ["team"]


def _errors(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["message"])


def test_openapi_description_is_served_and_names_every_route(team: Server) -> None:
    r = httpx.get(f"{team.url}/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/users", "/api/v1/projects/{project}/robots", "/api/v1/audit"} <= set(
        doc["paths"]
    )


def test_system_admin_manages_users_projects_and_members(team: Server) -> None:
    with team.client() as admin:
        r = admin.post("/api/v1/users", json={"name": "zoe", "password": "zoe-password"})
        assert r.status_code == 201
        assert (
            admin.post("/api/v1/users", json={"name": "zoe", "password": "x" * 8}).status_code
            == 409
        )
        names = [u["name"] for u in admin.get("/api/v1/users").json()]
        assert "zoe" in names and "admin" in names
        r = admin.post("/api/v1/projects", json={"name": "web", "immutable_tags": ["v*"]})
        assert r.status_code == 201 and r.json()["immutable_tags"] == ["v*"]
        r = admin.put("/api/v1/projects/web/members/zoe", json={"role": "developer"})
        assert r.status_code == 200
        assert admin.get("/api/v1/projects/web/members").json() == [
            {"user": "zoe", "role": "developer"}
        ]
    with team.client("zoe", "zoe-password") as zoe:
        data = b"zoe's"
        r = zoe.post(
            "/v2/web/app/blobs/uploads/", params={"digest": digest_bytes(data)}, content=data
        )
        assert r.status_code == 201
        assert zoe.get("/api/v1/users").status_code == 403
        assert [p["name"] for p in zoe.get("/api/v1/projects").json()] == ["library", "web"]


def test_maintainer_cannot_change_roles_and_the_refusal_is_audited(team: Server) -> None:
    with _client(team, "maya") as maya:
        r = maya.put("/api/v1/projects/team/members/gina", json={"role": "developer"})
        assert r.status_code == 403 and "not an admin of project team" in _errors(r)
        assert maya.delete("/api/v1/projects/team/members/gina").status_code == 403
        assert maya.get("/api/v1/projects/team/members").status_code == 200
    with _client(team, "pam") as pam:  # the project's admin may
        r = pam.put("/api/v1/projects/team/members/gina", json={"role": "developer"})
        assert r.status_code == 200
        assert (
            pam.put("/api/v1/projects/other/members/gina", json={"role": "admin"}).status_code
            == 404
        )
    with team.client() as admin:
        log = admin.get("/api/v1/audit", params={"user": "maya", "result": "refused"}).json()
        assert [(e["action"], e["repo"], e["result"]) for e in log] == [
            ("manage", "team", "refused"),
            ("manage", "team", "refused"),
        ]
        assert log[1]["ref"] == "PUT /api/v1/projects/team/members/gina"
        assert log[0]["remote"] == "127.0.0.1"
        ok = admin.get("/api/v1/audit", params={"user": "pam", "result": "ok"}).json()
        assert ok[0]["detail"] == "set member gina=developer"


def test_robot_created_through_the_api_pushes_and_cannot_manage(team: Server) -> None:
    with _client(team, "pam") as pam:
        r = pam.post(
            "/api/v1/projects/team/robots",
            json={"name": "ci", "actions": ["pull", "push"], "expires_in": 3600},
        )
        assert r.status_code == 201, r.text
        robot = r.json()
        assert robot["name"] == "robot$team+ci" and robot["actions"] == ["pull", "push"]
        listed = pam.get("/api/v1/projects/team/robots").json()
        assert [x["name"] for x in listed] == ["robot$team+ci"] and "secret" not in listed[0]
    with team.client(robot["name"], robot["secret"]) as bot:
        data = b"bot"
        r = bot.post(
            "/v2/team/x/blobs/uploads/", params={"digest": digest_bytes(data)}, content=data
        )
        assert r.status_code == 201
        assert bot.get("/api/v1/projects/team/robots").status_code == 403
    with _client(team, "maya") as maya:
        r = maya.post("/api/v1/projects/team/robots", json={"name": "mine", "actions": ["pull"]})
        assert r.status_code == 403
    with _client(team, "pam") as pam:
        assert pam.delete("/api/v1/projects/team/robots/ci").status_code == 204
    with team.client(robot["name"], robot["secret"]) as bot:
        assert bot.get("/v2/team/x/tags/list").status_code == 401


def test_listings_of_repositories_tags_and_manifests(team: Server) -> None:
    with _client(team, "dev") as dev:
        body = _image(dev, "team/app")
        assert _put(dev, "team/app", "v1", body).status_code == 201
        assert dev.get("/api/v1/repositories").json() == ["team/app"]
        tags = dev.get("/api/v1/tags", params={"repository": "team/app"}).json()
        assert tags == [{"tag": "v1", "digest": str(digest_bytes(body))}]
        ms = dev.get("/api/v1/manifests", params={"repository": "team/app"}).json()
        assert [(m["digest"], m["tags"]) for m in ms] == [(str(digest_bytes(body)), ["v1"])]
    anon = httpx.get(f"{team.url}/api/v1/repositories")
    assert anon.status_code == 200 and anon.json() == []  # team is private
    r = httpx.get(f"{team.url}/api/v1/tags", params={"repository": "team/app"})
    assert r.status_code == 404
    assert httpx.get(f"{team.url}/api/v1/projects/team").status_code == 404


def test_bad_requests_are_refused_clearly(team: Server) -> None:
    with team.client() as admin:
        r = admin.post("/api/v1/users", content=b"{not json")
        assert r.status_code == 400 and "not JSON" in _errors(r)
        r = admin.post("/api/v1/users", json={"name": "robot$x", "password": "long-enough"})
        assert r.status_code == 400 and _errors(r).startswith("name:")
        r = admin.put("/api/v1/projects/team/members/dev", json={"role": "owner"})
        assert r.status_code == 400 and "role" in _errors(r)
        r = admin.post("/api/v1/projects/team/robots", json={"name": "x", "actions": ["fly"]})
        assert r.status_code == 400
        assert admin.get("/api/v1/audit", params={"limit": "lots"}).status_code == 400
        assert (
            admin.put("/api/v1/projects/team/members/nobody", json={"role": "guest"}).status_code
            == 404
        )
    r = httpx.get(f"{team.url}/api/v1/users")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert PASSWORDS
