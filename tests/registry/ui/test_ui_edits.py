"""Changes made from the web UI, over HTTP against a registry served in this process
(each test its own): deleting a whole artifact after a confirmation page, a project's
policy, quota, immutable rules and members. Each is checked against the role as the
API checks it, and audited as the API audits it. (The browser drives the same forms in
``test_ui_browser.py``.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from imageforge.errors import InvalidArgument
from imageforge.registry import RegistryConfig, open_registry
from imageforge.registry.service import OPERATOR, RegistryState
from imageforge.registry.ui._edits import parse_size
from tests.registry.conftest import ADMIN_PASSWORD, serving
from tests.registry.ui.conftest import PASSWORD, csrf_of, logged_in, push_artifact

ROLES = {"owner": "admin", "keeper": "maintainer", "dev": "developer", "guest": "guest"}


@dataclass
class Local:
    url: str
    project: str  # private, with a member of each role
    digest: str  # PROJECT/notes, tagged a and b

    @property
    def repo(self) -> str:
        return f"{self.project}/notes"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("admin", ADMIN_PASSWORD), timeout=60)

    def audit(self, **filters: str) -> list[dict[str, str]]:
        with self.api() as c:
            rows = c.get("/api/v1/audit", params={**filters, "limit": "10000"}).json()
        return [r for r in rows if r["repo"].split("/")[0] == self.project]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryState, str]]:
    """One registry served in this process for the module, with a user per role."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        mp.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
        data = tmp_path_factory.mktemp("ui-edits") / "data"
        state = open_registry(RegistryConfig(data), announce=lambda _m: None)
    for user in [*ROLES, "loner"]:
        state.manage.add_user(OPERATOR, user, PASSWORD)
    try:
        with serving(state) as url:
            yield state, url
    finally:
        state.meta.close()


@pytest.fixture
def local(served: tuple[RegistryState, str], request: pytest.FixtureRequest) -> Local:
    """A project of this test's own, each user of ROLES a member in that role (``loner``
    none), and an artifact in it."""
    state, url = served
    project = "p" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10]
    state.manage.add_project(OPERATOR, project)
    for user, role in ROLES.items():
        state.manage.set_member(OPERATOR, project, user, role)
    reg = Local(url, project, "")
    with reg.api() as c:
        reg.digest = push_artifact(c, reg.repo, ["a", "b"], "hello")
    return reg


def _tags(reg: Local) -> list[str]:
    with reg.api() as c:
        r = c.get(f"/v2/{reg.repo}/tags/list")
        return list(r.json().get("tags") or []) if r.status_code == 200 else []


def test_an_artifact_is_deleted_with_all_its_tags_after_a_confirmation(local: Local) -> None:
    where = {"repo": local.repo, "digest": local.digest}
    with logged_in(local.url, "keeper", PASSWORD) as c:  # a maintainer may delete
        artifact = c.get("/ui/artifact", params=where).text
        assert 'id="delete-artifact"' in artifact
        confirm = c.get("/ui/artifact/delete", params=where)
        assert confirm.status_code == 200
        assert '<dd id="doomed-tags">a, b</dd>' in confirm.text
        assert "Delete the artifact and its 2 tags" in confirm.text
        assert _tags(local) == ["a", "b"]  # nothing is deleted before the confirmation
        r = c.post("/ui/artifact/delete", data={**where, "csrf": csrf_of(confirm.text)})
        assert (
            r.status_code == 303
            and r.headers["location"] == f"/ui/repository?name={local.project}%2Fnotes"
        )
    assert _tags(local) == []
    with local.api() as api:
        assert api.get(f"/v2/{local.repo}/manifests/{local.digest}").status_code == 404
    rows = local.audit(user="keeper", action="delete")
    assert [(r["repo"], r["ref"], r["result"], r["detail"]) for r in rows] == [
        (local.repo, local.digest, "ok", "ui")
    ]


def test_a_developer_or_a_guest_cannot_delete_an_artifact(local: Local) -> None:
    where = {"repo": local.repo, "digest": local.digest}
    for user in ("dev", "guest"):
        with logged_in(local.url, user, PASSWORD) as c:
            page = c.get("/ui/artifact", params=where).text
            assert 'id="delete-artifact"' not in page  # no button to press
            confirm = c.get("/ui/artifact/delete", params=where)
            assert confirm.status_code == 403
            assert f"{user} may not delete artifacts in {local.repo}" in confirm.text
            r = c.post("/ui/artifact/delete", data={**where, "csrf": csrf_of(page)})
            assert r.status_code == 403 and "maintainer or admin role" in r.text
    with logged_in(local.url, "loner", PASSWORD) as c:  # no role: the project is hidden
        assert c.get("/ui/artifact/delete", params=where).status_code == 404
    assert _tags(local) == ["a", "b"]
    refused = local.audit(action="delete", result="refused")
    assert {r["user"] for r in refused} >= {"dev", "guest"}


def test_an_immutable_tag_keeps_its_artifact_and_the_page_says_why(local: Local) -> None:
    where = {"repo": local.repo, "digest": local.digest}
    with logged_in(local.url, "admin", ADMIN_PASSWORD) as c:
        settings = c.get(f"/ui/projects/{local.project}/settings").text
        r = c.post(
            f"/ui/projects/{local.project}/settings/immutable",
            data={"rules": "a\n", "csrf": csrf_of(settings)},
        )
        assert r.status_code == 303
        assert "<li><code>a</code></li>" in c.get(f"/ui/projects/{local.project}/settings").text
        r = c.post("/ui/artifact/delete", data={**where, "csrf": csrf_of(settings)})
        assert r.status_code == 403 and f"tag {local.repo}:a is immutable" in r.text
    assert _tags(local) == ["a", "b"]


def test_a_project_admin_edits_its_policy_and_members_and_each_change_is_audited(
    local: Local,
) -> None:
    with logged_in(local.url, "owner", PASSWORD) as c:
        members = c.get(f"/ui/projects/{local.project}/members").text
        assert 'id="add-member"' in members
        token = csrf_of(members)
        r = c.post(
            f"/ui/projects/{local.project}/members",
            data={"user": "loner", "role": "guest", "csrf": token},
        )
        assert r.status_code == 303 and r.headers["location"].endswith("/members?saved=1")
        c.post(
            f"/ui/projects/{local.project}/members",
            data={"user": "loner", "role": "maintainer", "csrf": token},
        )
        c.post(
            f"/ui/projects/{local.project}/members/remove", data={"user": "guest", "csrf": token}
        )
        page = c.get(f"/ui/projects/{local.project}/members?saved=1").text
        assert "<td>loner</td><td>maintainer</td>" in page and "<td>guest</td>" not in page
        form = {"scan_on_push": "1", "refuse_root": "1", "severity": "high"}
        r = c.post(
            f"/ui/projects/{local.project}/settings/policy",
            data={**form, "required_attestation": "", "csrf": token},
        )
        assert r.status_code == 303
        # a bad value is refused with the reason, nothing changed
        r = c.post(
            f"/ui/projects/{local.project}/members",
            data={"user": "nobody", "role": "guest", "csrf": token},
        )
        assert r.status_code == 404 and "user nobody does not exist" in r.text
    with local.api() as api:
        policy = api.get(f"/api/v1/projects/{local.project}/policy").json()
        assert policy["scan_on_push"] and policy["refuse_root"] and not policy["prevent_vulnerable"]
        assert policy["severity"] == "high"
        got = {
            m["user"]: m["role"]
            for m in api.get(f"/api/v1/projects/{local.project}/members").json()
        }
        assert got["loner"] == "maintainer" and "guest" not in got
    details = [r["detail"] for r in local.audit(user="owner", action="manage", result="ok")]
    assert "ui: set member loner=guest" in details and "ui: remove member guest" in details
    assert any(d.startswith("ui: set policy ") and "severity=high" in d for d in details)
    assert all(
        r["ref"].startswith(f"POST /ui/projects/{local.project}/")
        for r in local.audit(user="owner", action="manage")
    )


def test_who_is_not_an_admin_of_the_project_cannot_edit_it(local: Local) -> None:
    with logged_in(local.url, "keeper", PASSWORD) as c:  # a maintainer
        members = c.get(f"/ui/projects/{local.project}/members").text
        settings = c.get(f"/ui/projects/{local.project}/settings").text
        assert 'id="add-member"' not in members and 'id="policy-form"' not in settings
        token = csrf_of(members)
        for path, form in (
            (f"/ui/projects/{local.project}/members", {"user": "keeper", "role": "admin"}),
            (f"/ui/projects/{local.project}/members/remove", {"user": "owner"}),
            (
                f"/ui/projects/{local.project}/settings/policy",
                {"prevent_vulnerable": "1", "severity": "low"},
            ),
        ):
            r = c.post(path, data={**form, "csrf": token})
            assert (
                r.status_code == 403
                and f"keeper is not an admin of project {local.project}" in r.text
            )
    with logged_in(local.url, "owner", PASSWORD) as c:  # a project admin, not a system admin
        settings = c.get(f"/ui/projects/{local.project}/settings").text
        assert 'id="policy-form"' in settings and 'id="quota-form"' not in settings
        for path, form in (
            (f"/ui/projects/{local.project}/settings/quota", {"limit": "1 MiB"}),
            (f"/ui/projects/{local.project}/settings/immutable", {"rules": "*"}),
        ):
            r = c.post(path, data={**form, "csrf": csrf_of(settings)})
            assert r.status_code == 403 and "owner is not a system admin" in r.text
        # without its CSRF token a form is refused even for whom it is meant
        r = c.post(f"/ui/projects/{local.project}/members", data={"user": "loner", "role": "guest"})
        assert r.status_code == 403 and "CSRF" in r.text
    with local.api() as api:
        got = {
            m["user"]: m["role"]
            for m in api.get(f"/api/v1/projects/{local.project}/members").json()
        }
        assert got == {**ROLES}
        assert not api.get(f"/api/v1/projects/{local.project}/policy").json()["prevent_vulnerable"]
        assert api.get(f"/api/v1/projects/{local.project}/quota").json()["limit"] is None
    refused = local.audit(action="manage", result="refused")
    assert {r["user"] for r in refused} == {"keeper", "owner"}


def test_a_system_admin_sets_the_quota_in_units(local: Local) -> None:
    with logged_in(local.url, "admin", ADMIN_PASSWORD) as c:
        token = csrf_of(c.get(f"/ui/projects/{local.project}/settings").text)
        r = c.post(
            f"/ui/projects/{local.project}/settings/quota",
            data={"limit": "1.5 GiB", "warn_percent": "90", "csrf": token},
        )
        assert r.status_code == 303
        r = c.post(
            f"/ui/projects/{local.project}/settings/quota", data={"limit": "lots", "csrf": token}
        )
        assert r.status_code == 400 and "quota &#39;lots&#39; is not a size" in r.text
    with local.api() as api:
        quota = api.get(f"/api/v1/projects/{local.project}/quota").json()
    assert quota["limit"] == 3 << 29 and quota["warn_percent"] == 90
    assert any(r["detail"] == f"ui: set quota {3 << 29} bytes" for r in local.audit(user="admin"))


def test_sizes_are_read_in_bytes_or_binary_units() -> None:
    assert parse_size("") is None
    assert parse_size("1024") == 1024
    assert parse_size(" 2 KiB ") == 2048
    assert parse_size("1mib") == 1 << 20
    for bad in ("-1", "1 MB", "1e3", "x"):
        with pytest.raises(InvalidArgument):
            parse_size(bad)
