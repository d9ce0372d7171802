"""Credentials are found in the files and the order podman and skopeo use."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from imageforge.errors import InvalidArgument
from imageforge.remote import (
    Credentials,
    auth_file_paths,
    find_credentials,
    parse_challenge,
    remove_credentials,
    save_credentials,
    scopes_for,
)


def _entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path


def _write(path: Path, auths: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))


def test_lookup_order_runtime_then_config_then_docker(home: Path) -> None:
    runtime = home / "run" / "containers" / "auth.json"
    config = home / "home" / ".config" / "containers" / "auth.json"
    docker = home / "home" / ".docker" / "config.json"
    assert auth_file_paths() == [runtime, config, docker]
    _write(docker, {"https://index.docker.io/v1/": _entry("d", "1"), "r.io": _entry("d", "2")})
    assert find_credentials("docker.io") == Credentials("d", "1")
    assert find_credentials("r.io") == Credentials("d", "2")
    _write(config, {"r.io": _entry("c", "3")})
    assert find_credentials("r.io") == Credentials("c", "3")
    _write(runtime, {"r.io": _entry("r", "4"), "r.io/team": _entry("t", "5")})
    assert find_credentials("r.io") == Credentials("r", "4")
    # the longest namespace an entry names wins for a repository under it
    assert find_credentials("r.io", "team/app") == Credentials("t", "5")
    assert find_credentials("r.io", "other/app") == Credentials("r", "4")
    assert find_credentials("nowhere.io") is None


def test_registry_auth_file_wins_and_login_writes_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = home / "chosen.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(chosen))
    path = save_credentials("r.io", Credentials("u", "p:with:colons"))
    assert path == chosen and chosen.stat().st_mode & 0o777 == 0o600
    assert find_credentials("r.io") == Credentials("u", "p:with:colons")
    assert not (home / "run").exists()
    save_credentials("other.io", Credentials("o", "q"))
    assert remove_credentials("r.io") == (chosen, ["r.io"])
    assert json.loads(chosen.read_text())["auths"].keys() == {"other.io"}
    assert remove_credentials(None) == (chosen, ["other.io"])
    assert "secret" not in repr(Credentials("u", "secret"))


def test_a_broken_auth_file_names_the_file_and_line(home: Path) -> None:
    bad = home / "bad.json"
    bad.write_text('{\n  "auths": {\n    "r.io": {"auth": }\n  }\n}\n')
    with pytest.raises(InvalidArgument) as err:
        find_credentials("r.io", authfile=bad)
    assert err.value.location is not None
    assert (err.value.location.file, err.value.location.line) == (str(bad), 3)
    _write(bad, {"r.io": {"auth": "bm90LWEtcGFpcg=="}})  # "not-a-pair"
    with pytest.raises(InvalidArgument, match="base64 of 'user:password'"):
        find_credentials("r.io", authfile=bad)


def test_challenges_and_scopes() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'
    )
    assert c is not None
    assert (c.scheme, c.realm, c.service, c.scope) == (
        "bearer",
        "https://auth.example/token",
        "reg",
        "repository:a/b:pull",
    )
    basic = parse_challenge('Basic realm="x"')
    assert basic is not None and basic.scheme == "basic"
    assert parse_challenge("Negotiate abc") is None
    get = httpx.Request("GET", "http://r/v2/team/app/manifests/1")
    assert scopes_for(get) == {"repository:team/app:pull"}
    mount = httpx.Request("POST", "http://r/v2/team/app/blobs/uploads/?mount=sha256:x&from=lib/src")
    assert scopes_for(mount) == {"repository:team/app:pull,push", "repository:lib/src:pull"}
    assert scopes_for(httpx.Request("GET", "http://r/v2/")) == frozenset()
