"""The web UI's defences over plain HTTP against a real server: every form needs its
session's CSRF token, a guest cannot use an admin form nor a guest-less user see a
private project, sessions end with a password change, and every page carries the
security headers. (The browser tests are in ``test_ui_browser.py``.)"""

from __future__ import annotations

import httpx

from imageforge.registry.ui import HEADERS
from tests.registry.conftest import ADMIN_PASSWORD
from tests.registry.ui.conftest import PASSWORD, UiRegistry, csrf_of, logged_in


def _robots(reg: UiRegistry) -> list[str]:
    with reg.server.client() as c:
        return [r["name"] for r in c.get("/api/v1/projects/team/robots").json()]


def test_a_form_without_its_csrf_token_is_refused(ui_registry: UiRegistry) -> None:
    with logged_in(ui_registry.url, "admin", ADMIN_PASSWORD) as c:
        form = {"name": "nocsrf", "action_pull": "1"}
        for sent in ({}, {"csrf": "not-the-token"}):
            r = c.post("/ui/projects/team/robots", data={**form, **sent})
            assert r.status_code == 403
            assert "CSRF token is missing or does not match" in r.text
        # another session's token does not count either
        with logged_in(ui_registry.url, "viewer", PASSWORD) as other:
            stolen = csrf_of(other.get("/ui/projects").text)
        assert c.post("/ui/projects/team/robots", data={**form, "csrf": stolen}).status_code == 403
    # nor may a login form be posted without one (login CSRF)
    with httpx.Client(base_url=ui_registry.url) as anon:
        r = anon.post("/ui/login", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 403
        assert anon.get("/ui/projects/library/members").headers["location"] == "/ui/login"
    assert "robot$team+nocsrf" not in _robots(ui_registry)


def test_a_guest_cannot_submit_an_admin_form_nor_an_outsider_see_a_private_project(
    ui_registry: UiRegistry,
) -> None:
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:
        token = csrf_of(c.get("/ui/projects/team").text)
        r = c.post(
            "/ui/projects/team/robots", data={"name": "sneaky", "action_pull": "1", "csrf": token}
        )
        assert r.status_code == 403 and "viewer is not an admin of project team" in r.text
        r = c.post(
            "/ui/artifact/delete-tag", data={"repo": "team/app", "tag": "old", "csrf": token}
        )
        assert r.status_code == 403
        page = c.get("/ui/repository", params={"name": "team/app"}).text
        assert "old" in page and "Delete tag" not in page  # a guest sees no delete buttons
    assert "robot$team+sneaky" not in _robots(ui_registry)
    with logged_in(ui_registry.url, "outsider", PASSWORD) as c:
        assert ">team<" not in c.get("/ui/projects").text
        r = c.get("/ui/projects/team")
        assert r.status_code == 404 and "project team does not exist" in r.text
        r = c.get("/ui/artifact", params={"repo": "team/app", "digest": str(ui_registry.image)})
        assert r.status_code == 404
        assert "team/app" not in c.get("/ui/search", params={"q": "app"}).text
    # anonymous: the private project's pages send to the login page
    r = httpx.get(f"{ui_registry.url}/ui/projects/team/members")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"


def test_a_maintainer_action_is_checked_against_the_role(ui_registry: UiRegistry) -> None:
    with ui_registry.server.client() as api:  # its delivery log shows what was emitted
        hook = {"name": "ui", "url": "http://127.0.0.1:9/hook", "events": ["delete"]}
        assert api.post("/api/v1/projects/team/webhooks", json=hook).status_code == 201
    with logged_in(ui_registry.url, "admin", ADMIN_PASSWORD) as c:
        page = c.get("/ui/repository", params={"name": "team/app"}).text
        assert "Delete tag old" in page
        r = c.post(
            "/ui/artifact/delete-tag",
            data={"repo": "team/app", "tag": "old", "csrf": csrf_of(page)},
        )
        assert r.status_code == 303
        scan = {"repo": "team/app", "digest": str(ui_registry.image), "csrf": csrf_of(page)}
        r = c.post("/ui/artifact/scan", data=scan)
        assert r.status_code == 303 and r.headers["location"].endswith("tab=vulnerabilities")
    with ui_registry.server.client() as api:
        assert "old" not in api.get("/v2/team/app/tags/list").json()["tags"]
        sent = api.get("/api/v1/projects/team/webhooks/ui/deliveries").json()
        assert [d["event"] for d in sent] == ["delete"]
        entries = api.get("/api/v1/audit", params={"action": "scan", "user": "admin"}).json()
        assert any(e["repo"] == "team/app" and e["detail"] == "ui" for e in entries)
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:  # a guest may not push
        shown = c.get("/ui/artifact", params={"repo": "team/app", "digest": str(ui_registry.image)})
        scan = {"repo": "team/app", "digest": str(ui_registry.image), "csrf": csrf_of(shown.text)}
        r = c.post("/ui/artifact/scan", data=scan)
        assert r.status_code == 403 and "viewer may not push to team/app" in r.text


def test_pages_carry_the_security_headers_and_the_cookie_its_flags(
    ui_registry: UiRegistry,
) -> None:
    r = httpx.get(f"{ui_registry.url}/ui/login")
    for name, value in HEADERS.items():
        assert r.headers[name] == value
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    assert "secure" not in cookie  # plain HTTP here; over TLS it is Secure (unit test)
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:
        r = c.get("/ui/static/ui.js")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "javascript" in r.headers["content-type"]


def test_a_session_ends_when_the_user_is_made_again(ui_registry: UiRegistry) -> None:
    with ui_registry.server.client() as api:
        made = api.post("/api/v1/users", json={"name": "changer", "password": PASSWORD})
        assert made.status_code == 201, made.text
    with logged_in(ui_registry.url, "changer", PASSWORD) as c:
        assert c.get("/ui/projects").status_code == 200
        with ui_registry.server.client() as api:  # deleted and made again: a new password
            assert api.delete("/api/v1/users/changer").status_code == 204
            again = api.post("/api/v1/users", json={"name": "changer", "password": PASSWORD})
            assert again.status_code == 201, again.text
        r = c.get("/ui/projects/library/members")
        assert r.status_code == 303 and r.headers["location"] == "/ui/login"


def test_a_refused_login_is_shown_and_audited_with_filters(ui_registry: UiRegistry) -> None:
    with httpx.Client(base_url=ui_registry.url) as c:
        token = csrf_of(c.get("/ui/login").text)
        r = c.post(
            "/ui/login", data={"username": "viewer", "password": "wrong-pw-1", "csrf": token}
        )
        assert r.status_code == 401 and "invalid username or password" in r.text
    with logged_in(ui_registry.url, "admin", ADMIN_PASSWORD) as c:
        page = c.get(
            "/ui/audit", params={"user": "viewer", "action": "login", "result": "refused"}
        ).text
        assert "ui: invalid username or password" in page
        assert ">push<" not in page  # the filters apply
        admin = c.get("/ui/admin").text  # the registry's settings, for system admins
        assert "<td>outsider</td><td>no</td>" in admin and "<td>admin</td><td>yes</td>" in admin
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:
        for page in ("/ui/audit", "/ui/admin"):
            r = c.get(page)
            assert r.status_code == 403 and "viewer is not a system admin" in r.text


def test_a_hostile_name_in_a_link_comes_back_as_text(ui_registry: UiRegistry) -> None:
    with logged_in(ui_registry.url, "admin", ADMIN_PASSWORD) as c:
        for page, params in (
            ("/ui/repository", {"name": "<script>alert(1)</script>"}),
            ("/ui/search", {"q": "<img src=x onerror=alert(1)>"}),
        ):
            r = c.get(page, params=params)
            assert "<script>alert" not in r.text and "<img src=x" not in r.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text or "&lt;img src=x" in r.text


def test_an_sbom_attested_by_imageforge_is_read_from_its_envelope(ui_registry: UiRegistry) -> None:
    digest = str(ui_registry.hostile)
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:
        page = c.get("/ui/artifact", params={"repo": "team/app", "digest": digest, "tab": "sbom"})
    assert page.status_code == 200
    assert f"(tag sha256-{ui_registry.hostile.hex}.att)" in page.text
    assert (
        "<td>busybox</td><td>1.36.1</td><td><code>pkg:generic/busybox@1.36.1</code></td>"
        in page.text
    )
    assert "&lt;img src=x onerror=" in page.text and "<img src=x" not in page.text


def test_a_project_s_settings_are_shown_and_webhooks_only_to_its_admins(
    ui_registry: UiRegistry,
) -> None:
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:
        page = c.get("/ui/projects/team/settings").text
        assert "<dt>scan on push</dt><dd>True</dd>" in page
        assert "Only the project's admins see its webhooks." in page
    with logged_in(ui_registry.url, "admin", ADMIN_PASSWORD) as c:
        page = c.get("/ui/projects/team/settings").text
        assert 'id="hooks"' in page and "Only the project" not in page
