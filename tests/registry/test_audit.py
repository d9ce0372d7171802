"""The audit log against hostile clients (finding 12 of issue 19): user names are shown
as text (no rich markup, no terminal escapes), refusals answered 404 are logged,
``X-Forwarded-For`` counts only from configured proxies, and a token request cannot
write one row per scope."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import run_cli
from tests.registry.conftest import Server, make_server
from tests.registry.test_roles import _client, team  # noqa: F401 - fixture

__all__ = ["team"]


def test_hostile_user_names_are_printed_as_text(server: Server) -> None:
    names = ["[/x]", "\x1b[31mred\x1b[0m", "[bold]loud[/bold]", "\u202eevil"]
    for name in names:
        r = httpx.get(f"{server.url}/token", auth=(name, "guess"))
        assert r.status_code == 401
    cli = run_cli(["registry", "audit", "--data-dir", str(server.data_dir)])
    assert cli.returncode == 0, cli.stderr  # "[/x]" made it exit 70
    out = cli.stdout
    assert "[/x]" in out and "[bold]loud[/bold]" in out
    assert "\x1b" not in out and "\u202e" not in out  # nothing reaches the terminal ...
    assert "\\x1b[31mred\\x1b[0m" in out and "\\u202eevil" in out  # ... but it is visible
    # the JSON keeps the names exactly
    cli = run_cli(["registry", "audit", "--format", "json", "--data-dir", str(server.data_dir)])
    assert cli.returncode == 0 and "\\u001b[31mred" in cli.stdout


def test_refusals_answered_404_are_audited(team: Server) -> None:
    with _client(team, "dev") as dev:
        # dev is no member of the private project "other": to dev it does not exist
        assert dev.get("/api/v1/projects/other").status_code == 404
        assert dev.get("/api/v1/tags", params={"repository": "other/app"}).status_code == 404
    anon = httpx.get(f"{team.url}/api/v1/projects/team/members")
    assert anon.status_code == 401
    log = team.meta().audit(user="dev", result="refused")
    assert [(a.action, a.repo, a.ref) for a in log] == [
        ("manage", "", "GET /api/v1/tags"),
        ("manage", "other", "GET /api/v1/projects/other"),
    ]
    assert log[1].detail == "project other does not exist"


def _remote_of_refused_login(srv: Server) -> str:
    r = httpx.get(
        f"{srv.url}/token", auth=("mallory", "guess"), headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert r.status_code == 401
    return srv.meta().audit(user="mallory")[0].remote


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    plain = make_server(tmp_path / "plain")
    plain.start()
    try:
        assert _remote_of_refused_login(plain) == "127.0.0.1"  # the header is ignored
    finally:
        plain.stop()
    proxied = make_server(tmp_path / "proxied", '[registry]\ntrusted_proxies = ["127.0.0.1"]\n')
    proxied.start()
    try:
        assert _remote_of_refused_login(proxied) == "203.0.113.9"
    finally:
        proxied.stop()


def test_bad_trusted_proxies_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "registry.toml"
    cfg.write_text('[registry]\ntrusted_proxies = ["proxy.example"]\n')
    r = run_cli(["registry", "serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg)])
    assert r.returncode == 2 and "'proxy.example' is not an IP address or network" in r.stderr


def test_one_token_request_writes_one_audit_entry(team: Server) -> None:
    scopes = " ".join(f"repository:other/r{i}:pull,push" for i in range(100))
    r = httpx.get(f"{team.url}/token", params={"scope": scopes}, auth=("dev", "d-pw"))
    assert r.status_code == 200
    log = team.meta().audit(user="dev")
    assert len(log) == 1
    assert log[0].action == "pull,push" and log[0].detail.startswith("token: 100 scopes refused")
    too_many = " ".join(f"repository:other/r{i}:pull" for i in range(300))
    r = httpx.get(f"{team.url}/token", params={"scope": too_many}, auth=("dev", "d-pw"))
    assert r.status_code == 400
    assert "a token request names at most 100 scopes, not 300" in r.json()["errors"][0]["message"]
    assert len(team.meta().audit(user="dev")) == 1
