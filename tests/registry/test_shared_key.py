"""Replicas with their own data directories and one shared token key file: a token one
replica issued is accepted by another (and, without the shared file, refused)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from imageforge.errors import InvalidArgument
from imageforge.registry import RegistryConfig, open_registry
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, serving

SCOPE = "repository:library/app:pull"


@pytest.fixture
def db(postgres: PgCluster, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    return postgres.new_database()


@contextmanager
def _replicas(tmp: Path, db: str, keys: list[Path | None]) -> Iterator[list[str]]:
    with ExitStack() as stack:
        urls = []
        for i, key in enumerate(keys):
            state = open_registry(
                RegistryConfig(tmp / f"replica{i}", db=db, token_key_file=key),
                announce=lambda _m: None,
            )
            stack.callback(state.meta.close)
            urls.append(stack.enter_context(serving(state)))
        yield urls


def _token(url: str) -> str:
    r = httpx.get(f"{url}/token", params={"scope": SCOPE}, auth=("admin", ADMIN_PASSWORD))
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _catalog(url: str, token: str) -> int:
    return httpx.get(f"{url}/v2/", headers={"Authorization": f"Bearer {token}"}).status_code


def test_token_from_one_replica_accepted_by_another(tmp_path: Path, db: str) -> None:
    key = tmp_path / "token.key"
    key.write_text(secrets.token_hex(32) + "\n")
    key.chmod(0o400)  # a mounted secret: read, never rewritten
    with _replicas(tmp_path / "shared", db, [key, key]) as (a, b):
        assert _catalog(b, _token(a)) == 200
        assert _catalog(a, _token(b)) == 200
    assert key.stat().st_mode & 0o777 == 0o400
    # each with a key of its own data directory: the other replica's token is refused
    with _replicas(tmp_path / "own", db, [None, None]) as (a, b):
        assert _catalog(b, _token(a)) == 401


def test_missing_or_bad_key_file_is_refused(tmp_path: Path, db: str) -> None:
    with pytest.raises(InvalidArgument, match="no such token key file"):
        open_registry(RegistryConfig(tmp_path / "d", db=db, token_key_file=tmp_path / "absent"))
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key\n")
    r = run_cli(
        ["registry", "serve", "--data-dir", str(tmp_path / "d"), "--token-key-file", str(bad)],
        env={"IMAGEFORGE_REGISTRY_DB": db},
    )
    assert r.returncode != 0
    assert "not a token signing key" in r.stderr and str(bad) in r.stderr
    assert "openssl rand -hex 32" in r.stderr
