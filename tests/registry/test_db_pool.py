"""The PostgreSQL connection pool: a replica holds at most ``db_pool_size`` connections
however many requests it serves at once, a dead connection is replaced when it is
checked out, and a request that cannot get one in time fails clearly."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from imageforge.errors import Unavailable
from imageforge.oci import digest_bytes
from imageforge.registry import RegistryConfig, open_registry
from imageforge.registry.meta import MetaStore, PoolSize
from tests.registry.conftest import ADMIN_PASSWORD, PgCluster, serving


def _connections(postgres: PgCluster, url: str) -> int:
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            (url.rsplit("/", 1)[1],),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _kill_connections(postgres: PgCluster, url: str) -> None:
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (url.rsplit("/", 1)[1],),
        )


def test_many_parallel_requests_share_a_few_connections(
    tmp_path: Path, postgres: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    url = postgres.new_database()
    state = open_registry(
        RegistryConfig(tmp_path / "data", db=url, db_pool_size=3), announce=lambda _m: None
    )
    most = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, _connections(postgres, url))

    try:
        with (
            serving(state) as base,
            httpx.Client(base_url=base, auth=("admin", ADMIN_PASSWORD), timeout=120) as client,
        ):

            def push(i: int) -> int:
                data = f"blob {i}".encode()
                r = client.post(
                    "/v2/library/pool/blobs/uploads/",
                    params={"digest": str(digest_bytes(data))},
                    content=data,
                )
                return r.status_code

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                with ThreadPoolExecutor(32) as pool:  # uvicorn's thread pool runs 40
                    codes = list(pool.map(push, range(96)))
            finally:
                done.set()
                watcher.join()
            assert codes == [201] * 96
            for i in range(96):
                digest = digest_bytes(f"blob {i}".encode())
                assert client.head(f"/v2/library/pool/blobs/{digest}").status_code == 200
    finally:
        state.meta.close()
    assert 1 <= most <= 3  # never one per serving thread


def test_dead_connections_are_replaced_when_checked_out(postgres: PgCluster) -> None:
    url = postgres.new_database()
    with MetaStore(url, PoolSize(2)) as meta:
        meta.add_user("alice", "h")
        _kill_connections(postgres, url)  # a database restart, an idle timeout
        user = meta.user("alice")  # no error: the pool checked and reconnected
        assert user is not None and user.password_hash == "h"


def test_no_free_connection_in_time_is_unavailable(postgres: PgCluster) -> None:
    url = postgres.new_database()
    with MetaStore(url, PoolSize(1, timeout=0.5)) as meta:
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with meta.transaction():
                holding.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            holding.wait(30)
            with pytest.raises(Unavailable, match="came free within 0.5 s") as info:
                meta.user("alice")
            assert "--db-pool-size" in (info.value.hint or "")
        finally:
            release.set()
            holder.join()
        assert meta.user("alice") is None  # free again
