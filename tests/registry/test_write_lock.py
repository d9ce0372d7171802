"""On PostgreSQL the one write lock is taken only by the writes garbage collection must
exclude (links, manifests, tags: docs/registry-gc.md); audit rows and upload-session
rows, written on every pull and upload of every replica, do not queue behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from imageforge.oci import digest_bytes
from imageforge.registry.meta import MetaStore
from tests.registry.conftest import PgCluster


def _in_thread(fn: Callable[[], object]) -> threading.Thread:
    t = threading.Thread(target=fn)
    t.start()
    return t


def test_only_writes_that_gc_excludes_wait_for_the_write_lock(postgres: PgCluster) -> None:
    layer = digest_bytes(b"layer")
    with MetaStore(postgres.new_database()) as meta:
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with meta.transaction():  # what a collection's sweep step holds
                holding.set()
                release.wait(60)

        holder = _in_thread(hold)
        linker: threading.Thread | None = None
        try:
            assert holding.wait(30)

            def unlocked() -> None:
                meta.audit_add("alice", "pull", "library/app", "1", "ok", "127.0.0.1")
                meta.add_upload("u1", "library/app")
                meta.remove_upload("u1")

            quick = _in_thread(unlocked)
            quick.join(20)
            assert not quick.is_alive(), "audit and upload rows waited for the write lock"
            linker = _in_thread(lambda: meta.link_blob("library/app", layer))
            linker.join(1)
            assert linker.is_alive()  # a link waits: a collection's step is never interleaved
        finally:
            release.set()
            holder.join()
        assert linker is not None
        linker.join(30)
        assert meta.blob_linked("library/app", layer)
        assert [r.action for r in meta.audit()] == ["pull"]
