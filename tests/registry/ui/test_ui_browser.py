"""The web UI in a real headless browser (Debian's chromium through chromedriver and
Selenium) against a real registry: log in with the keyboard, browse to a pushed image,
read its layers, vulnerabilities and SBOM, create a robot account, see what a guest
and an outsider may not, and HTML planted in labels and package metadata shown as text.

Screenshots of the main pages go to a temporary directory, or to ``docs/ui/`` when
``IMAGEFORGE_UI_SCREENSHOTS=docs`` (to refresh the committed ones)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import need_binary
from tests.registry.conftest import ADMIN_PASSWORD
from tests.registry.test_scan_on_push import _scan
from tests.registry.ui.conftest import (
    HOSTILE_DESCRIPTION,
    HOSTILE_IMG,
    HOSTILE_LABEL,
    PASSWORD,
    UiRegistry,
    push_artifact,
)

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[3] / "docs" / "ui"
WIDE, PHONE = (1280, 900), (390, 844)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless chromium for the module (starting it takes seconds on 2 cores)."""
    options = webdriver.ChromeOptions()
    options.binary_location = need_binary("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={WIDE[0]},{WIDE[1]}")
    # chromedriver from Debian, never Selenium Manager's download (no network here)
    driver = webdriver.Chrome(service=Service(need_binary("chromedriver")), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("IMAGEFORGE_UI_SCREENSHOTS") == "docs":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path_factory.mktemp("ui-shots")


def _login(browser: WebDriver, url: str, user: str, password: str) -> None:
    """Log in as a keyboard user would: type, Tab to the next field, Enter."""
    browser.delete_all_cookies()
    browser.get(f"{url}/ui/login")
    browser.find_element(By.ID, "username").send_keys(user, Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "password"
    focused.send_keys(password, Keys.ENTER)
    assert browser.find_element(By.ID, "whoami").text == user


def _no_script_ran(browser: WebDriver) -> None:
    """No alert is open and the planted handlers did not change the title."""
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert "pwned" not in browser.title


def _absent(browser: WebDriver, css: str) -> bool:
    """Whether nothing matches ``css`` now (without waiting for it to appear)."""
    browser.implicitly_wait(0)
    try:
        return not browser.find_elements(By.CSS_SELECTOR, css)
    finally:
        browser.implicitly_wait(5)


def _rows(browser: WebDriver, table: str) -> list[str]:
    return [r.text for r in browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]


def _config_history(reg: UiRegistry) -> list[str]:
    with reg.server.client() as c:
        accept = {"accept": "application/vnd.oci.image.manifest.v1+json"}
        manifest = c.get(f"/v2/team/app/manifests/{reg.image}", headers=accept).json()
        config = c.get(f"/v2/team/app/blobs/{manifest['config']['digest']}").json()
    return [h.get("created_by", "") for h in config["history"] if not h.get("empty_layer")]


def test_log_in_and_read_an_image_s_layers_vulnerabilities_and_sbom(
    browser: WebDriver, ui_registry: UiRegistry, shots: Path
) -> None:
    _scan(ui_registry.server, "team/app", ui_registry.image)  # done (a rescan too)
    _login(browser, ui_registry.url, "admin", ADMIN_PASSWORD)
    assert any(r.startswith("team private 1") for r in _rows(browser, "projects"))
    browser.save_screenshot(str(shots / "projects.png"))
    browser.find_element(By.LINK_TEXT, "team").click()
    browser.find_element(By.LINK_TEXT, "team/app").click()
    artifacts = _rows(browser, "artifacts")
    assert any("image linux/amd64" in r for r in artifacts), artifacts
    assert not any("cyclonedx" in r for r in artifacts)  # shown on its subject's page
    browser.save_screenshot(str(shots / "repository.png"))
    browser.find_element(By.CSS_SELECTOR, f"a[href*='{ui_registry.image.hex}']").click()

    assert browser.find_element(By.ID, "digest").text == str(ui_registry.image)
    layers = _rows(browser, "layers")
    history = _config_history(ui_registry)
    assert len(layers) == len(history) and all(
        h in row for h, row in zip(history, layers, strict=True)
    )
    browser.save_screenshot(str(shots / "artifact-layers.png"))

    browser.find_element(By.LINK_TEXT, "Vulnerabilities").click()
    assert browser.find_element(By.ID, "scan-status").text == "Success"
    assert "Critical: 1" in browser.find_element(By.ID, "severity-counts").text
    [finding] = [r for r in _rows(browser, "vulns") if "CVE-2019-10744" in r]
    assert "Critical lodash 4.17.11 4.17.12 no" in finding
    browser.save_screenshot(str(shots / "artifact-vulnerabilities.png"))

    browser.find_element(By.LINK_TEXT, "SBOM").click()
    rows = _rows(browser, "sbom")
    assert any("lodash 4.17.11 pkg:npm/lodash@4.17.11" in r for r in rows), rows
    assert HOSTILE_DESCRIPTION in browser.find_element(By.ID, "sbom").text  # as text
    assert _absent(browser, "#sbom img, #sbom b")
    _no_script_ran(browser)
    browser.save_screenshot(str(shots / "artifact-sbom.png"))
    browser.find_element(By.ID, "filter-sbom").send_keys("left")  # the search box filters
    visible = [
        r for r in browser.find_elements(By.CSS_SELECTOR, "#sbom tbody tr") if r.is_displayed()
    ]
    assert [r.text.split()[0] for r in visible] == ["left-pad"]

    browser.find_element(By.LINK_TEXT, "Signatures and attestations").click()
    assert any("application/vnd.cyclonedx+json" in r for r in _rows(browser, "attached"))


def test_html_in_labels_is_shown_as_text_and_never_run(
    browser: WebDriver, ui_registry: UiRegistry
) -> None:
    _login(browser, ui_registry.url, "viewer", PASSWORD)
    browser.get(
        f"{ui_registry.url}/ui/artifact?repo=team/app&digest={ui_registry.hostile}&tab=labels"
    )
    text = browser.find_element(By.ID, "labels").text
    assert HOSTILE_LABEL in text and HOSTILE_IMG in text
    assert _absent(browser, "#labels script, #labels img")
    _no_script_ran(browser)


def test_create_a_robot_account_and_see_its_secret_once(
    browser: WebDriver, ui_registry: UiRegistry, shots: Path
) -> None:
    _login(browser, ui_registry.url, "admin", ADMIN_PASSWORD)
    browser.get(f"{ui_registry.url}/ui/projects/team/robots")
    browser.find_element(By.ID, "robot-short").send_keys("ci")
    browser.find_element(By.CSS_SELECTOR, "input[name=action_push]").click()
    browser.find_element(By.ID, "robot-days").send_keys("30")
    browser.find_element(By.ID, "create-robot").click()
    name = browser.find_element(By.ID, "robot-name").text
    secret = browser.find_element(By.ID, "robot-secret").text
    assert name == "robot$team+ci" and any(
        r.startswith(f"{name} pull, push") for r in _rows(browser, "robots")
    )
    browser.save_screenshot(str(shots / "robots.png"))
    # the secret works, for what the robot was given
    r = httpx.get(
        f"{ui_registry.url}/token",
        params={"scope": "repository:team/app:pull,push"},
        auth=(name, secret),
    )
    assert r.status_code == 200, r.text
    browser.get(f"{ui_registry.url}/ui/projects/team/robots")
    assert _absent(browser, "#robot-secret")  # shown once
    # the form sent again (a reload) does not replace the robot and its secret
    browser.find_element(By.ID, "robot-short").send_keys("ci")
    browser.find_element(By.ID, "create-robot").click()
    assert browser.find_element(By.ID, "error").text == f"robot {name} exists"


def test_a_guest_and_an_outsider_see_only_what_they_may(
    browser: WebDriver, ui_registry: UiRegistry
) -> None:
    _login(browser, ui_registry.url, "outsider", PASSWORD)
    assert not any(r.startswith("team ") for r in _rows(browser, "projects"))
    browser.get(f"{ui_registry.url}/ui/projects/team")
    assert browser.find_element(By.ID, "error").text == "project team does not exist"

    _login(browser, ui_registry.url, "viewer", PASSWORD)
    browser.get(f"{ui_registry.url}/ui/projects/team/robots")  # a guest: refused page
    assert "viewer is not an admin of project team" in browser.find_element(By.ID, "error").text
    browser.get(f"{ui_registry.url}/ui/artifact?repo=team/app&digest={ui_registry.image}")
    assert _absent(browser, "#scan-now")  # a guest may not push, so not scan
    browser.find_element(By.CSS_SELECTOR, "form[action='/ui/logout'] button").click()
    WebDriverWait(browser, 30).until(expected_conditions.url_contains("/ui/login"))
    assert _absent(browser, "#whoami")


def test_a_phone_width_screen_shows_the_artifact_page_without_sideways_scrolling(
    browser: WebDriver, ui_registry: UiRegistry, shots: Path
) -> None:
    _login(browser, ui_registry.url, "admin", ADMIN_PASSWORD)
    browser.set_window_size(*PHONE)
    try:
        browser.get(f"{ui_registry.url}/ui/artifact?repo=team/app&digest={ui_registry.image}")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
        browser.save_screenshot(str(shots / "artifact-phone.png"))
    finally:
        browser.set_window_size(*WIDE)


def test_the_provenance_page_shows_the_build_with_html_as_text(
    browser: WebDriver, ui_registry: UiRegistry, shots: Path
) -> None:
    _login(browser, ui_registry.url, "viewer", PASSWORD)
    browser.get(f"{ui_registry.url}/ui/artifact?repo=team/app&digest={ui_registry.image}")
    browser.find_element(By.ID, "provenance-link").click()
    verdict = browser.find_element(By.ID, "verdict").text
    assert verdict.startswith("Verified: an attestation of this provenance is signed by a key")
    args = browser.find_element(By.CSS_SELECTOR, "table.build-args").text
    assert f"NOTE {HOSTILE_LABEL}" in args  # the build argument's HTML, as text
    assert "pkg:docker/alpine:3.20" in browser.find_element(By.CSS_SELECTOR, "table.materials").text
    assert _absent(browser, "main script, main img")
    _no_script_ran(browser)
    browser.save_screenshot(str(shots / "provenance.png"))


def test_an_admin_deletes_an_artifact_after_confirming_and_a_developer_is_refused(
    browser: WebDriver, ui_registry: UiRegistry, shots: Path
) -> None:
    with ui_registry.server.client() as api:
        digest = push_artifact(api, "team/scratch", ["x", "y"], "scratch")
        made = api.post("/api/v1/users", json={"name": "dev", "password": PASSWORD})
        assert made.status_code == 201, made.text
        assert api.put("/api/v1/projects/team/members/dev", json={"role": "developer"}).is_success
    _login(browser, ui_registry.url, "dev", PASSWORD)  # a developer: no button, and refused
    browser.get(f"{ui_registry.url}/ui/artifact?repo=team/scratch&digest={digest}")
    assert _absent(browser, "#delete-artifact")
    browser.get(f"{ui_registry.url}/ui/artifact/delete?repo=team/scratch&digest={digest}")
    error = browser.find_element(By.ID, "error").text
    assert error == "dev may not delete artifacts in team/scratch"

    _login(browser, ui_registry.url, "admin", ADMIN_PASSWORD)
    browser.get(f"{ui_registry.url}/ui/repository?name=team/scratch")
    browser.find_element(By.CSS_SELECTOR, f"a[aria-label='Delete artifact {digest[:19]}']").click()
    assert browser.find_element(By.ID, "doomed-tags").text == "x, y"
    browser.save_screenshot(str(shots / "delete-artifact.png"))
    browser.find_element(By.ID, "confirm-delete").click()
    WebDriverWait(browser, 30).until(expected_conditions.url_contains("team"))
    assert _absent(browser, f"a[href*='{digest[7:]}']")
    with ui_registry.server.client() as api:
        assert api.get(f"/v2/team/scratch/manifests/{digest}").status_code == 404


def test_a_project_admin_adds_a_member_changes_its_role_and_the_policy(
    browser: WebDriver, ui_registry: UiRegistry, shots: Path
) -> None:
    with ui_registry.server.client() as api:
        made = api.post("/api/v1/users", json={"name": "newcomer", "password": PASSWORD})
        assert made.status_code == 201, made.text
    _login(browser, ui_registry.url, "admin", ADMIN_PASSWORD)
    browser.get(f"{ui_registry.url}/ui/projects/library/members")
    browser.find_element(By.ID, "new-user").send_keys("newcomer")
    Select(browser.find_element(By.ID, "new-role")).select_by_value("maintainer")
    browser.find_element(By.CSS_SELECTOR, "#add-member button").click()
    assert browser.find_element(By.ID, "saved").text == "Saved."
    assert "newcomer maintainer" in " ".join(_rows(browser, "members"))
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#members tbody tr")
        if r.text.startswith("newcomer")
    )
    Select(row.find_element(By.TAG_NAME, "select")).select_by_value("guest")
    row.find_element(By.CSS_SELECTOR, "button[aria-label='Save the role of newcomer']").click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(row))  # reloaded
    assert any(r.startswith("newcomer guest") for r in _rows(browser, "members"))
    browser.save_screenshot(str(shots / "members.png"))

    browser.get(f"{ui_registry.url}/ui/projects/library/settings")
    browser.find_element(By.ID, "scan_on_push").click()
    Select(browser.find_element(By.ID, "severity")).select_by_value("high")
    browser.find_element(By.CSS_SELECTOR, "#policy-form button").click()
    assert browser.find_element(By.ID, "saved").text == "Saved."
    box = browser.find_element(By.ID, "scan_on_push")
    assert box.is_selected()
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, "quota"))
    browser.save_screenshot(str(shots / "settings.png"))
    with ui_registry.server.client() as api:
        policy = api.get("/api/v1/projects/library/policy").json()
        assert policy["scan_on_push"] and policy["severity"] == "high"
        members = api.get("/api/v1/projects/library/members").json()
        assert {"user": "newcomer", "role": "guest"} in members
