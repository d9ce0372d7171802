"""A registry whose 401 challenges send clients to a token service on another host, as
Docker Hub does: here a second imageforge server on the same metadata serves /token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageforge.errors import Unauthorized
from imageforge.oci import Reference
from imageforge.remote import Client, open_remote
from tests.conftest import run_cli
from tests.registry.conftest import Server, _free_port, make_server
from tests.remote.conftest import login_ours, ok

NO_TLS = "--tls-verify=false"


@pytest.fixture
def split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, Server]]:
    """(registry, token service): the registry names the other's /token as its realm."""
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    token_port = _free_port()
    config = f"""
[registry]
token_realm = "http://127.0.0.1:{token_port}/token"

[[projects]]
name = "team"
public = false
"""
    registry = make_server(tmp_path / "registry", config)
    registry.start()
    tokens = Server(registry.data_dir, registry.config, port=token_port)
    try:
        tokens.start()
        yield registry, tokens
    finally:
        tokens.stop()
        registry.stop()


@pytest.mark.slow
def test_tokens_come_from_the_other_realm_for_push_mount_and_pull(
    split: tuple[Server, Server], root: Path, authfile: Path, tmp_path: Path
) -> None:
    registry, tokens = split
    r = httpx.post(f"{registry.url}/v2/team/app/blobs/uploads/")
    assert r.status_code == 401
    assert f'realm="{tokens.url}/token"' in r.headers["www-authenticate"]

    login_ours(registry)
    app = f"{registry.host}/team/app"
    ok(run_cli(["--root", str(root), "push", "hello:1", f"{app}:1", NO_TLS]))
    # a copy to another private repository mounts: the token needs pull on the source too
    out = ok(
        run_cli(
            [
                "copy",
                f"docker://{app}:1",
                f"docker://{registry.host}/team/copy:1",
                NO_TLS,
                "--progress",
                "plain",
            ]
        )
    )
    assert out.stderr.count(": mounted") == 2, out.stderr
    fresh = tmp_path / "fresh"
    ok(run_cli(["--root", str(fresh), "pull", f"{registry.host}/team/copy:1", NO_TLS]))

    # which realm did the client ask, with which scopes and credentials?
    asked: list[httpx.Request] = []
    creds_file = json.loads(authfile.read_text())
    assert registry.host in creds_file["auths"]
    with Client(tls_verify=False, backoff=0.05) as c:
        c._http.event_hooks["request"].append(asked.append)
        open_remote(c, Reference.parse(f"{app}:1"))
    token_calls = [q for q in asked if q.url.port == tokens.port]
    assert [q.url.path for q in token_calls] == ["/token"]
    assert token_calls[0].url.params.get_list("scope") == ["repository:team/app:pull"]
    assert token_calls[0].headers["authorization"].startswith("Basic ")


def test_anonymous_clients_get_an_anonymous_token_and_a_clear_refusal(
    split: tuple[Server, Server], authfile: Path
) -> None:
    registry, tokens = split
    asked: list[httpx.Request] = []
    with Client(tls_verify=False, backoff=0.05) as c:
        c._http.event_hooks["request"].append(asked.append)
        with pytest.raises(Unauthorized) as err:
            open_remote(c, Reference.parse(f"{registry.host}/team/app:1"))
    assert err.value.hint and f"imageforge login {registry.host}" in err.value.hint
    token_calls = [q for q in asked if q.url.port == tokens.port]
    assert token_calls and all("authorization" not in q.headers for q in token_calls)
    # a public project answers anonymous clients itself: a missing image is NotFound
    r = run_cli(["pull", f"{registry.host}/library/none:1", NO_TLS])
    assert r.returncode == 3, r.stderr


def test_a_token_realm_that_is_not_a_url_is_refused_with_the_file(tmp_path: Path) -> None:
    from imageforge.errors import InvalidArgument
    from imageforge.registry import load_config

    cfg = tmp_path / "registry.toml"
    cfg.write_text('[registry]\ntoken_realm = "auth.example/token"\n')
    with pytest.raises(InvalidArgument) as err:
        load_config(cfg, tmp_path / "data")
    assert "token_realm" in err.value.message and err.value.location is not None
    assert err.value.location.file == str(cfg)
    cfg.write_text('[registry]\ntoken_realm = "https://auth.example/token"\n')
    assert load_config(cfg, tmp_path / "data").token_realm == "https://auth.example/token"
