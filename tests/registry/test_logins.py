"""Logins against a guessing client, and revocation (finding 13 of issue 19): an unknown
user name answers as slowly as a known one, failed logins are limited per user and
address (429 with Retry-After, audited once), and a changed password or secret, a
robot cut to fewer actions or a member removed loses what it had at once, in tokens
issued before as well as in basic auth."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.oci import digest_bytes
from imageforge.registry.auth import create_robot
from tests.conftest import run_cli
from tests.registry.conftest import Server, make_server
from tests.registry.test_roles import CONFIG, PASSWORDS, _push_blob, _token, team  # noqa: F401

__all__ = ["team"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(srv: Server, user: str, password: str) -> httpx.Response:
    return httpx.get(f"{srv.url}/token", auth=(user, password), timeout=30)


def test_unknown_users_take_as_long_as_known_ones(tmp_path: Path) -> None:
    srv = make_server(tmp_path / "registry", "[registry]\nfailed_login_limit = 0\n")
    srv.start()
    try:
        known: list[float] = []
        unknown: list[float] = []
        for i in range(8):  # interleaved, so both see the same load
            for user, times in (("admin", known), (f"nobody{i}", unknown)):
                start = time.perf_counter()
                assert _login(srv, user, f"wrong{i}").status_code == 401
                times.append(time.perf_counter() - start)
        # before the fix: ~2-8 ms for an unknown name against ~300 ms for a known one
        assert statistics.median(unknown) > 0.5 * statistics.median(known), (known, unknown)
    finally:
        srv.stop()


LIMITED = CONFIG.replace(
    "[[users]]",
    "[registry]\nfailed_login_limit = 3\nfailed_login_address_limit = 6\n"
    'failed_login_window = "1m"\n\n[[users]]',
    1,
)


@pytest.fixture
def limited(tmp_path: Path, registry_db: str | None) -> Iterator[Server]:
    env = {f"{u.upper()}_PW": pw for u, pw in PASSWORDS.items()}
    srv = make_server(tmp_path / "registry", LIMITED, env=env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_failed_logins_are_limited_per_user_and_address(limited: Server) -> None:
    for i in range(3):
        assert _login(limited, "dev", f"guess{i}").status_code == 401
    # locked out now, even with the right password, on every way in
    r = _login(limited, "dev", "d-pw")
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "too many failed logins (3 failed logins for dev from 127.0.0.1" in r.text
    with limited.client("dev", "d-pw") as dev:
        assert dev.get("/v2/team/app/tags/list").status_code == 429
        assert dev.get("/api/v1/projects/team/members").status_code == 429
    # other users from the same address are not locked out by dev's failures
    assert _login(limited, "maya", "m-pw").status_code == 200
    # the lockout is in the audit log once, not once per attempt
    locked = [a for a in limited.meta().audit(user="dev") if a.detail.startswith("locked out")]
    assert len(locked) == 1 and locked[0].action == "login" and locked[0].remote == "127.0.0.1"
    # spraying: 6 failures from one address for any users lock the address out
    assert _login(limited, "gina", "guess").status_code == 401
    assert _login(limited, "pam", "guess").status_code == 401
    assert _login(limited, "nobody", "guess").status_code == 401
    r = _login(limited, "maya", "m-pw")
    assert r.status_code == 429 and "6 failed logins from 127.0.0.1" in r.text


def test_a_changed_password_stops_working_at_once(team: Server) -> None:
    token = _token(team, ("dev", "d-pw"), "repository:team/app:pull,push")
    with team.client("dev", "d-pw") as dev:
        assert _push_blob(dev, "team/app").status_code == 201  # and cached as checked
        cli = run_cli(
            [
                "registry",
                "user",
                "add",
                "dev",
                "--password-stdin",
                "--data-dir",
                str(team.data_dir),
            ],
            stdin_text="a-new-password\n",
        )
        assert cli.returncode == 0, cli.stderr
        assert _push_blob(dev, "team/app", b"after").status_code == 401  # no 60 s of grace
    r = httpx.post(f"{team.url}/v2/team/app/blobs/uploads/", headers=_bearer(token))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert "revoked" in r.json()["errors"][0]["message"]
    with team.client("dev", "a-new-password") as dev:
        assert _push_blob(dev, "team/app", b"after").status_code == 201


def test_a_robot_cut_to_pull_loses_push_at_once(team: Server) -> None:
    meta = team.meta()
    robot, secret = create_robot(meta, "team", "ci", frozenset({"pull", "push"}), 3600)
    token = _token(team, (robot.name, secret), "repository:team/app:pull,push")
    assert (
        httpx.post(f"{team.url}/v2/team/app/blobs/uploads/", headers=_bearer(token)).status_code
        == 202
    )
    with team.client(robot.name, secret) as bot:
        assert _push_blob(bot, "team/app").status_code == 201
        meta.add_robot(dataclasses.replace(robot, actions=frozenset({"pull"})))
        assert _push_blob(bot, "team/app", b"more").status_code == 403
        assert bot.get(f"/v2/team/app/blobs/{digest_bytes(b'blob')}").status_code == 200
    r = httpx.post(f"{team.url}/v2/team/app/blobs/uploads/", headers=_bearer(token))
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = httpx.get(f"{team.url}/v2/team/app/blobs/{digest_bytes(b'blob')}", headers=_bearer(token))
    assert r.status_code == 200  # what it may still do, it does
    # a new secret: the old one and its tokens stop at once
    _again, new_secret = create_robot(meta, "team", "ci", frozenset({"pull"}), 3600)
    assert (
        httpx.get(f"{team.url}/v2/team/app/tags/list", auth=(robot.name, secret)).status_code == 401
    )
    r = httpx.get(f"{team.url}/v2/team/app/blobs/{digest_bytes(b'blob')}", headers=_bearer(token))
    assert r.status_code == 401
    r = httpx.get(
        f"{team.url}/v2/team/app/blobs/{digest_bytes(b'blob')}", auth=(robot.name, new_secret)
    )
    assert r.status_code == 200


def test_a_member_removed_loses_push_in_the_token_at_once(team: Server) -> None:
    token = _token(team, ("dev", "d-pw"), "repository:team/app:pull,push")
    assert team.meta().remove_member("team", "dev")
    r = httpx.post(f"{team.url}/v2/team/app/blobs/uploads/", headers=_bearer(token))
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
