"""``/healthz`` and ``/readyz``: the probes a load balancer or Kubernetes sends, answered
without credentials; readiness fails, with the reason, when the metadata database is
gone (the S3 bucket's case: tests/registry/test_deploy_manifests.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from imageforge.registry import RegistryConfig, RegistryState, open_registry
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, serving


def test_the_probes_need_no_credentials(opened: RegistryState) -> None:
    with serving(opened) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert c.get("/v2/").status_code == 401
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


@pytest.fixture
def own_database(
    postgres: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RegistryState, str]]:
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    url = postgres.new_database()
    state = open_registry(RegistryConfig(tmp_path / "data", db=url))
    try:
        yield state, url
    finally:
        state.meta.close()


def test_a_lost_database_makes_the_replica_unready_not_dead(
    own_database: tuple[RegistryState, str], postgres: PgCluster
) -> None:
    state, url = own_database
    with serving(state) as base, httpx.Client(base_url=base, timeout=30) as c:
        assert c.get("/readyz").status_code == 200
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["check"] == "metadata"
        assert name in ready.json()["error"]
        assert c.get("/healthz").status_code == 200
