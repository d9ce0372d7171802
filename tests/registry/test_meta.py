"""The metadata store behaves the same on SQLite and on PostgreSQL: every test here
runs on both (the ``meta_db`` fixture), through the one ``MetaStore`` class."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from imageforge.errors import Denied, InvalidArgument, NotFound, Unavailable
from imageforge.oci import Digest, digest_bytes
from imageforge.registry.meta import ManifestRow, MetaStore, RobotRow
from imageforge.registry.policy import GateContext
from imageforge.registry.service import registry_gates
from tests.registry.conftest import PgCluster


@pytest.fixture
def meta(meta_db: str) -> Iterator[MetaStore]:
    with MetaStore(meta_db) as store:
        yield store


def _d(text: str) -> Digest:
    return digest_bytes(text.encode())


def _manifest(meta: MetaStore, repo: str, name: str, tag: str | None = None) -> Digest:
    layer = _d(f"layer of {name}")
    meta.link_blob(repo, layer)
    digest = _d(name)
    meta.put_manifest(
        ManifestRow(repo, digest, "application/vnd.oci.image.manifest.v1+json", 123, None, None),
        [],
        [layer],
        tag,
    )
    return digest


def test_manifests_tags_and_pagination(meta: MetaStore) -> None:
    one = _manifest(meta, "lib/app", "one", "v1")
    two = _manifest(meta, "lib/app", "two", "v2")
    meta.put_manifest(meta.manifest("lib/app", two) or pytest.fail(), [], [], "v1")  # move v1
    assert meta.resolve_tag("lib/app", "v1") == two
    assert meta.tags("lib/app", None, None) == ["v1", "v2"]
    assert meta.tags("lib/app", "v1", 1) == ["v2"]
    assert meta.tags_of("lib/app", two) == ["v1", "v2"]
    row = meta.manifest("lib/app", one)
    assert row is not None and row.size == 123 and row.digest == one
    assert [m.digest for m, _ in meta.manifest_list("lib/app")] == [one, two]
    assert meta.repo_exists("lib/app") and not meta.repo_exists("lib/other")
    assert meta.delete_manifest("lib/app", two)
    assert meta.tags("lib/app", None, None) == []
    assert not meta.delete_manifest("lib/app", two)


def test_text_sorts_byte_wise_on_both_backends(meta: MetaStore) -> None:
    for repo in ["b/x", "B/x", "a/x", "_/x", "a-b/x"]:
        meta.link_blob(repo, _d("blob"))
    assert meta.repositories(None, None) == sorted(["b/x", "B/x", "a/x", "_/x", "a-b/x"])
    assert meta.repositories("B/x", 2) == ["_/x", "a-b/x"]


def test_the_library_projects_usage_counts_its_one_part_names(meta: MetaStore) -> None:
    """``library`` holds ``library/x`` and the one-part names (``hello``): its query
    matches those with a LIKE pattern, whose ``%`` PostgreSQL's driver must not read
    as a placeholder (retention and quotas of ``library`` failed there)."""
    meta.link_blob("hello", _d("one"), 10)
    meta.link_blob("library/x", _d("two"), 20)
    meta.link_blob("other/y", _d("three"), 40)
    assert (meta.usage("library").used, meta.usage("other").used) == (30, 40)
    assert meta.unsized_blobs("library") == []


def test_manifest_refused_when_a_blob_or_child_is_missing(meta: MetaStore) -> None:
    row = ManifestRow("lib/app", _d("m"), "application/json", 2, None, None)
    with pytest.raises(NotFound):
        meta.put_manifest(row, [], [_d("absent")], "v1")
    with pytest.raises(NotFound):
        meta.put_manifest(row, [_d("absent child")], [], "v1")
    assert meta.manifest("lib/app", _d("m")) is None  # the transaction rolled back
    assert not meta.repo_exists("lib/app")


def test_immutable_tag_refused_in_the_transaction(meta: MetaStore) -> None:
    first = _manifest(meta, "rel/app", "first", "v1")
    row = ManifestRow("rel/app", _d("second"), "application/json", 2, None, None)
    # the rule lives in the immutable-tag gate, checked as the push's guard
    gates, push = registry_gates(lambda _d: []), GateContext("push", "rel/app", None, tag="v1")
    meta.set_immutable("rel", ["v*"])
    with pytest.raises(Denied):
        meta.put_manifest(row, [], [], "v1", lambda view: gates.check_in(view, row.digest, push))
    assert meta.resolve_tag("rel/app", "v1") == first
    meta.set_immutable("rel", ["v*", "release-*", "v*"])
    assert meta.immutable("rel") == ["release-*", "v*"]


def test_users_projects_members_and_the_quoted_user_column(meta: MetaStore) -> None:
    meta.add_user("alice", "h1")
    meta.add_user("alice", "h2", admin=True)  # replaced, not duplicated
    meta.add_user("bob", "hb")
    assert [(u.name, u.password_hash, u.admin) for u in meta.users()] == [
        ("alice", "h2", True),
        ("bob", "hb", False),
    ]
    assert meta.user_count() == 2
    meta.add_project("team", public=False)
    meta.add_project("team", public=True)
    assert [(p.name, p.public) for p in meta.projects()] == [("team", True)]
    meta.add_member("team", "alice", "guest")
    meta.add_member("team", "alice", "maintainer")
    meta.add_member("team", "bob", "developer")
    assert meta.members("team") == [("alice", "maintainer"), ("bob", "developer")]
    assert meta.role("team", "alice") == "maintainer"
    assert meta.remove_member("team", "bob") and meta.role("team", "bob") is None
    assert meta.delete_user("alice") and meta.members("team") == []
    assert meta.delete_project("team") == [] and meta.project("team") is None


def test_robots_and_settings(meta: MetaStore) -> None:
    robot = RobotRow("robot$team+ci", "team", "h", frozenset({"pull", "push"}), 99.5, 1.25)
    meta.add_robot(robot)
    assert meta.robot(robot.name) == robot
    assert meta.robots("team") == [robot] and meta.robots("other") == []
    assert meta.delete_robot(robot.name) and meta.robot(robot.name) is None
    assert meta.set_setting_once("key", "first") == "first"
    assert meta.set_setting_once("key", "second") == "first"
    assert meta.setting("key") == "first" and meta.setting("absent") is None


def test_audit_log_filters_newest_first(meta: MetaStore) -> None:
    start = time.time()
    meta.audit_add("alice", "push", "team/app", "v1", "ok", "127.0.0.1")
    meta.audit_add(None, "pull", "team/app", "v1", "refused", "127.0.0.2", "anonymous")
    meta.audit_add("bob", "push", "team/app", "v2", "refused", "127.0.0.3")
    rows = meta.audit()
    assert [r.ref for r in rows] == ["v2", "v1", "v1"]
    assert rows[0].id > rows[1].id > rows[2].id and rows[2].time >= start
    assert [r.user for r in meta.audit(result="refused")] == ["bob", None]
    assert [r.action for r in meta.audit(user="alice")] == ["push"]
    assert len(meta.audit(limit=1)) == 1 and meta.audit(since=time.time() + 60) == []


def test_gc_queries(meta: MetaStore) -> None:
    kept = _manifest(meta, "lib/app", "kept", "v1")
    loose = _manifest(meta, "lib/app", "loose")
    manifests, tagged, refs = meta.gc_snapshot()
    assert {d for _, d, _, _ in manifests} == {kept, loose}
    assert tagged == {("lib/app", kept)} and refs == []
    assert not meta.gc_delete_manifest("lib/app", loose, cutoff=0)  # newer than the cutoff
    assert not meta.gc_delete_manifest("lib/app", kept, cutoff=time.time() + 1)  # tagged
    assert meta.gc_delete_manifest("lib/app", loose, cutoff=time.time() + 1)
    layer = _d("layer of loose")
    assert meta.newest_links()[layer] > 0
    assert not meta.gc_unlink_blob(layer, cutoff=0)
    assert meta.gc_unlink_blob(layer, cutoff=time.time() + 1)
    assert not meta.blob_in_use(layer) and meta.blob_in_use(_d("layer of kept"))


def test_two_stores_on_one_database_see_each_other(meta_db: str) -> None:
    with MetaStore(meta_db) as a, MetaStore(meta_db) as b:
        digest = _manifest(a, "lib/app", "shared", "v1")
        assert b.resolve_tag("lib/app", "v1") == digest
        b.delete_tag("lib/app", "v1")
        assert a.resolve_tag("lib/app", "v1") is None


def test_concurrent_writers_lose_nothing(meta: MetaStore) -> None:
    errors: list[BaseException] = []

    def push(n: int) -> None:
        try:
            for i in range(10):
                _manifest(meta, "lib/app", f"m{n}-{i}", f"t{n}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(meta.tags("lib/app", None, None)) == 40


def test_unknown_database_url_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="mysql://u:\\*\\*\\*@db/x"):
        MetaStore("mysql://u:secret@db/x")


def test_unreachable_postgresql_is_unavailable_without_the_password(
    postgres: PgCluster,
) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{postgres.port}/no_such_database"
    with pytest.raises(Unavailable) as info:
        MetaStore(url)
    assert "no_such_database" in str(info.value) and "hunter2" not in str(info.value)


def test_lost_postgresql_connection_is_unavailable_then_reconnects(postgres: PgCluster) -> None:
    import psycopg

    url = postgres.new_database()
    with MetaStore(url) as meta:
        meta.add_user("alice", "h")
        with pytest.raises(Unavailable), meta.transaction() as db:  # in flight: lost
            with psycopg.connect(postgres.url(), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (url.rsplit("/", 1)[1],),
                )
            db.execute("SELECT 1")
        user = meta.user("alice")  # a new connection
        assert user is not None and user.password_hash == "h"


def test_nul_characters_are_refused_clearly_and_kept_readable_in_the_audit_log(
    meta: MetaStore,
) -> None:
    with pytest.raises(InvalidArgument, match="NUL"):
        meta.tags("lib/\x00", None, None)
    with pytest.raises(InvalidArgument, match="NUL"):
        meta.add_user("a\x00b", "h")
    assert meta.users() == []
    meta.audit_add(None, "manage", "lib/\x00x", "GET /api/v1/\x00", "refused", "127.0.0.1")
    assert meta.audit()[0].repo == "lib/\ufffdx"
