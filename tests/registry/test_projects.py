"""Deleting a project (finding 11 of issue 19): a project that holds repositories is
not deleted (as Harbor refuses), so re-creating its name cannot hand its old private
images to new members or to anonymous users; ``--force`` / ``?force=true`` deletes
the repositories with it, but never an immutable tag."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.registry.test_api import _image, _put
from tests.registry.test_roles import _client, team  # noqa: F401 - fixture

__all__ = ["team"]


def _message(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["message"])


def _push(srv: Server, repo: str, tag: str, layer: bytes) -> str:
    with _client(srv, "dev") as dev:
        body = _image(dev, repo, layer)
        r = _put(dev, repo, tag, body)
        assert r.status_code == 201, r.text
        return str(r.headers["docker-content-digest"])


def test_a_project_with_images_is_not_deleted_and_its_name_cannot_leak_them(team: Server) -> None:
    digest = _push(team, "team/app", "v1", b"private layer")
    _push(team, "team/db", "v1", b"another")
    with team.client() as admin:
        r = admin.delete("/api/v1/projects/team")
        assert r.status_code == 409 and r.json()["errors"][0]["code"] == "CONFLICT"
        assert "project team is not empty: it holds 2 repositories (team/app, team/db)" in (
            _message(r)
        )
        assert "?force=true" in _message(r)
        assert admin.get("/api/v1/projects/team").status_code == 200
    cli = run_cli(["registry", "project", "rm", "team", "--data-dir", str(team.data_dir)])
    assert cli.returncode != 0 and "project team is not empty" in cli.stderr
    assert "--force" in cli.stderr
    # still private, still whole
    assert httpx.get(f"{team.url}/v2/team/app/manifests/v1").status_code == 401
    with _client(team, "gina") as guest:
        r = guest.get("/v2/team/app/manifests/v1")
        assert r.status_code == 200 and r.headers["docker-content-digest"] == digest

    # --force deletes the images with the project: the re-created (public) name is empty
    with team.client() as admin:
        assert admin.delete("/api/v1/projects/team", params={"force": "true"}).status_code == 204
        assert (
            admin.post("/api/v1/projects", json={"name": "team", "public": True}).status_code == 201
        )
    for path in ("/v2/team/app/manifests/v1", f"/v2/team/app/manifests/{digest}"):
        r = httpx.get(f"{team.url}{path}")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert httpx.get(f"{team.url}/v2/team/app/tags/list").status_code == 404
    assert httpx.get(f"{team.url}/api/v1/repositories", params={"project": "team"}).json() == []
    log = team.meta().audit(action="manage", result="ok")
    assert log[1].detail == "delete project and its 2 repositories"


def test_force_delete_from_the_cli_and_the_rest_of_the_registry_stays(team: Server) -> None:
    _push(team, "team/app", "v1", b"team layer")
    with team.client() as admin:
        other = _image(admin, "other/app", b"other layer")
        assert _put(admin, "other/app", "v1", other).status_code == 201
        # a name that sorts right after the project's must not be taken with it
        assert admin.post("/api/v1/projects", json={"name": "team-b"}).status_code == 201
        assert _put(admin, "team-b/app", "v1", _image(admin, "team-b/app")).status_code == 201
    r = run_cli(["registry", "project", "rm", "team", "--force", "--data-dir", str(team.data_dir)])
    assert r.returncode == 0, r.stderr
    assert "deleted project team and its 1 repositories" in r.stderr
    with team.client() as admin:
        assert admin.get("/v2/team/app/manifests/v1").status_code == 404
        assert admin.get("/v2/other/app/manifests/v1").status_code == 200
        assert admin.get("/v2/team-b/app/manifests/v1").status_code == 200
    assert team.meta().project("team") is None and team.meta().robots("team") == []


def test_force_never_deletes_immutable_tags(tmp_path: Path, team: Server) -> None:
    _push(team, "team/app", "v1", b"released")
    team.meta().set_immutable("team", ["v*"])
    with team.client() as admin:
        r = admin.delete("/api/v1/projects/team", params={"force": "true"})
        assert r.status_code == 403 and "holds immutable tag team/app:v1" in _message(r)
        assert admin.get("/v2/team/app/manifests/v1").status_code == 200
        assert admin.delete("/api/v1/projects/team", params={"force": "maybe"}).status_code == 400
    cli = run_cli(
        ["registry", "project", "rm", "team", "--force", "--data-dir", str(team.data_dir)]
    )
    assert cli.returncode != 0 and "immutable tag team/app:v1" in cli.stderr
    assert "registry project immutable team" in cli.stderr  # how to go on
    assert team.meta().immutable("team") == ["v*"]


def test_a_deleted_projects_webhooks_and_retention_do_not_pass_to_its_new_namesake(
    team: Server,
) -> None:
    hook = {"name": "ci", "url": "http://127.0.0.1:9/hook", "events": ["push"]}
    retention = {"rules": [{"keep": "latest_pushed", "count": 1}]}
    with team.client() as admin:
        assert admin.post("/api/v1/projects/team/webhooks", json=hook).status_code == 201
        assert admin.put("/api/v1/projects/team/retention", json=retention).status_code == 200
        assert admin.post("/api/v1/projects/team/retention/runs", json={}).status_code == 201
        assert admin.delete("/api/v1/projects/team").status_code == 204
        assert admin.post("/api/v1/projects", json={"name": "team"}).status_code == 201
        # the old project's webhook would tell its URL of the new project's pushes
        assert admin.get("/api/v1/projects/team/webhooks").json() == []
        assert admin.get("/api/v1/projects/team/retention/runs").json() == []
        assert admin.get("/api/v1/projects/team/retention").json().get("rules", []) == []
