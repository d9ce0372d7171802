"""Retention (Harbor's tag retention): the rules decide what stays, a dry run lists
exactly what a real run deletes, the real run deletes it (never an immutable tag),
audits it and collects garbage so the bytes leave the disk; on SQLite and PostgreSQL,
with skopeo pushing the images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from imageforge.errors import InvalidArgument
from imageforge.registry import RegistryConfig, RegistryState, create_app, open_registry
from imageforge.registry.retention import (
    GC_SCHEDULE,
    UPLOAD_SWEEP,
    Artifact,
    Retention,
    Scheduler,
    evaluate,
    next_time,
    policy_from_json,
)
from imageforge.registry.service import OPERATOR, UploadUnknown
from tests.conftest import need_binary, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server, _free_port, skopeo

DAY = 86400.0


def _a(
    repo: str, digest: str, tags: tuple[str, ...], pushed: float, pulled: float | None = None
) -> Artifact:
    return Artifact(repo, digest, tags, pushed, pulled)


def _gone(policy: dict[str, object], artifacts: list[Artifact], now: float = 100 * DAY) -> set[str]:
    verdicts = evaluate(policy_from_json(policy), "p", artifacts, now)
    return {v.artifact.digest for v in verdicts if not v.retained}


def test_latest_pushed_counts_per_repository_and_rules_add_up() -> None:
    arts = [
        _a("p/app", "a1", ("v1",), 1),
        _a("p/app", "a2", ("v2",), 2),
        _a("p/app", "a3", ("v3",), 3),
        _a("p/app", "dev", ("dev",), 4),
        _a("p/app", "old", (), 0.5),
        _a("p/team/web", "w1", ("v1",), 1),
        _a("p/team/web", "w2", ("v2",), 2),
    ]
    keep2 = {"keep": "latest_pushed", "count": 2, "tags": ["v*"]}
    assert _gone({"rules": [keep2]}, arts) == {"a1", "dev", "old"}
    # a second rule keeps what the first lets go: an artifact stays if any rule keeps it
    dev = {"keep": "always", "tags": ["dev"]}
    assert _gone({"rules": [keep2, dev]}, arts) == {"a1", "old"}
    # repository globs are names inside the project; ** crosses slashes, * does not
    only_app = {**keep2, "count": 0, "repositories": ["*"]}
    assert _gone({"rules": [only_app, {"keep": "always", "repositories": ["team/**"]}]}, arts) == {
        "a1", "a2", "a3", "dev", "old",
    }  # fmt: skip
    excluded = {"keep": "always", "exclude_repositories": ["team/*"], "exclude_tags": ["v{1,2}"]}
    assert _gone({"rules": [excluded]}, arts) == {"a1", "a2", "old", "w1", "w2"}
    # untagged artifacts are selected only by a rule that says so
    assert "old" not in _gone({"rules": [{"keep": "always", "untagged": True}]}, arts)
    # no rules: nothing goes
    assert _gone({"rules": []}, arts) == set()


def test_pull_rules_and_days() -> None:
    now = 100 * DAY
    arts = [
        _a("p/app", "never", ("a",), now - DAY),
        _a("p/app", "lately", ("b",), now - 50 * DAY, pulled=now - DAY),
        _a("p/app", "long-ago", ("c",), now - 50 * DAY, pulled=now - 40 * DAY),
    ]
    assert _gone({"rules": [{"keep": "latest_pulled", "count": 1}]}, arts) == {"never", "long-ago"}
    assert _gone({"rules": [{"keep": "pulled_within", "days": 7}]}, arts) == {"never", "long-ago"}
    assert _gone({"rules": [{"keep": "pushed_within", "days": 7}]}, arts) == {"lately", "long-ago"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rules": [{"keep": "latest"}]}, "rules[0].keep 'latest' is not one of"),
        ({"rules": [{"keep": "latest_pushed"}]}, "keep latest_pushed needs count"),
        ({"rules": [{"keep": "pulled_within", "days": -1}]}, "needs days"),
        ({"rules": [{"keep": "always", "tags": "v*"}]}, "rules[0].tags is not a list"),
        ({"rules": [], "gc_grace": -5}, "gc_grace -5"),
        ({"rule": []}, "unknown field 'rule'"),
        ({"rules": [{"keep": "always", "tags": ["{a,b}" * 20]}]}, "is not a glob"),  # 2**20
    ],
)
def test_a_wrong_policy_is_refused_naming_the_field(doc: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        policy_from_json(doc)


def _layout(base: Path, size: int) -> Path:
    """An OCI layout holding tag ``1``: one random layer of ``size`` bytes."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    raw = data.getvalue()
    layer = gzip.compress(raw, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        }
    ).encode()

    def blob(body: bytes) -> dict[str, object]:
        digest = hashlib.sha256(body).hexdigest()
        (base / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (base / "blobs" / "sha256" / digest).write_bytes(body)
        return {"digest": f"sha256:{digest}", "size": len(body)}

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(layer)}],
    }
    desc = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                **desc,
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    (base / "index.json").write_text(json.dumps(index))
    (base / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return base


def _disk(server: Server) -> int:
    blobs = server.data_dir / "storage"
    return sum(p.stat().st_size for p in blobs.rglob("*") if p.is_file() and "sha256" in p.parts)


@pytest.mark.slow
def test_dry_run_lists_what_the_run_deletes_and_gc_frees_the_bytes(
    server: Server, tmp_path: Path
) -> None:
    need_binary("skopeo")
    creds = f"admin:{ADMIN_PASSWORD}"

    def push(name: str, size: int, *refs: str) -> None:
        layout = _layout(tmp_path / name, size)
        for ref in refs:
            skopeo(
                "copy", "--dest-tls-verify=false", "--dest-creds", creds,
                f"oci:{layout}:1", f"docker://{server.host}/{ref}",
            )  # fmt: skip

    with server.client() as c:
        r = c.post("/api/v1/projects", json={"name": "ret", "immutable_tags": ["keep-*"]})
        assert r.status_code == 201
        push("v1", 200_000, "ret/app:v1")
        push("v2", 210_000, "ret/app:v2")
        push("v3", 220_000, "ret/app:v3")
        push("dev", 230_000, "ret/app:dev")
        push("tmp-old", 240_000, "ret/app:tmp")
        push("tmp-new", 250_000, "ret/app:tmp")  # the older tmp is untagged now
        push("pinned", 260_000, "ret/other:keep-1")
        policy = {
            "rules": [
                {"keep": "latest_pushed", "count": 2, "repositories": ["app"], "tags": ["v*"]},
                {"keep": "always", "tags": ["dev"]},
            ],
            "gc_grace": 0,
        }
        r = c.put("/api/v1/projects/ret/retention", json=policy)
        assert r.status_code == 200, r.text
        assert c.get("/api/v1/projects/ret/retention").json()["rules"][0]["count"] == 2

        r = c.post("/api/v1/projects/ret/retention/runs", json={"dry_run": True})
        assert r.status_code == 201, r.text
        dry = r.json()
        would = {(a["repository"], a["digest"]): a["tags"] for a in dry["deleted"]}
        assert sorted(would.values()) == [[], ["tmp"], ["v1"]]
        [pinned] = dry["kept"]
        assert pinned["tags"] == ["keep-1"] and "immutable" in pinned["reason"]
        assert dry["retained"] == 3 and dry["gc"] is None
        assert c.get("/v2/ret/app/manifests/v1").status_code == 200  # a dry run deletes nothing
        freed_expected = sum(a["size"] for a in dry["deleted"])  # the manifests alone, so far

    before = _disk(server)
    out = run_cli(
        ["registry", "retention", "run", "ret", "--data-dir", str(server.data_dir),
         "--format", "json"]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    real = json.loads(out.stdout)
    assert {(a["repository"], a["digest"]) for a in real["deleted"]} == set(would)
    assert real["gc"]["freed_bytes"] > 3 * 200_000 + freed_expected
    assert before - _disk(server) == real["gc"]["freed_bytes"]

    with server.client() as c:
        for _repo, digest in would:
            assert c.get(f"/v2/ret/app/manifests/{digest}").status_code == 404
        assert c.get("/v2/ret/app/manifests/tmp").status_code == 404
        for tag in ("v2", "v3", "dev"):
            assert c.get(f"/v2/ret/app/manifests/{tag}").status_code == 200
        assert c.get("/v2/ret/other/manifests/keep-1").status_code == 200
        runs = c.get("/api/v1/projects/ret/retention/runs").json()
        assert [(x["dry_run"], x["status"]) for x in runs] == [(False, "done"), (True, "done")]
        assert c.get(f"/api/v1/projects/ret/retention/runs/{runs[0]['id']}").json() == runs[0]
        audit = c.get("/api/v1/audit", params={"limit": 50}).json()
        deletions = [e for e in audit if e["action"] == "delete" and "retention run" in e["detail"]]
        assert {e["ref"] for e in deletions} == {d for _, d in would}
        assert any(e["action"] == "retention" and "deleted 3" in e["detail"] for e in audit)
        assert any(e["action"] == "retention" and "dry run" in e["detail"] for e in audit)


def test_who_may_set_and_run_retention(server: Server) -> None:
    with server.client() as c:
        assert c.post("/api/v1/projects", json={"name": "ret"}).status_code == 201
        assert (
            c.post("/api/v1/users", json={"name": "dev", "password": "dev-pass-1"}).status_code
            == 201
        )
        assert (
            c.put("/api/v1/projects/ret/members/dev", json={"role": "developer"}).status_code == 200
        )
        r = c.put("/api/v1/projects/ret/retention", json={"rules": [{"keep": "nope"}]})
        assert r.status_code == 400
        r = c.put("/api/v1/projects/ret/retention", json={"schedule": "every night"})
        assert r.status_code == 400 and "not a cron expression" in r.text
        r = c.put("/api/v1/projects/ret/retention", json={"schedule": "0 0 31 2 *"})
        assert r.status_code == 400 and "never fires" in r.text
        assert c.get("/api/v1/projects/ret/retention/runs/12345").status_code == 404
    with server.client("dev", "dev-pass-1") as dev:
        assert dev.get("/api/v1/projects/ret/retention").status_code == 200
        assert dev.put("/api/v1/projects/ret/retention", json={"rules": []}).status_code == 403
        assert dev.post("/api/v1/projects/ret/retention/runs", json={}).status_code == 403
    with server.client(None) as anonymous:
        assert anonymous.get("/api/v1/projects/ret/retention").status_code == 404


def test_pull_times_are_noted_in_memory_and_written_in_one_go(meta_db: str) -> None:
    from imageforge.registry._pulls import PullClock
    from imageforge.registry.events import Event, Resource
    from imageforge.registry.meta import MetaStore
    from imageforge.registry.retention import RetentionStore

    with MetaStore(meta_db) as meta:
        clock = PullClock(meta)
        for when in (10.0, 30.0, 20.0):  # the latest wins, whatever the order
            clock.emit(Event("pull", "p", None, "p/app", [Resource("sha256:a")], occur_at=when))
        clock.emit(Event("push", "p", None, "p/app", [Resource("sha256:b")], occur_at=5.0))
        store = RetentionStore(meta)
        assert store.pull_times("p") == {}  # nothing written per pull
        assert clock.flush() == 1
        assert store.pull_times("p") == {("p/app", "sha256:a"): 30.0}
        clock.emit(Event("pull", "p", None, "p/app", [Resource("sha256:a")], occur_at=25.0))
        clock.flush()  # another server's older note never moves it back
        assert store.pull_times("p") == {("p/app", "sha256:a"): 30.0}
        assert store.pull_times("q") == {}


def _retention(state: RegistryState) -> Retention:
    return Retention(state.meta, state.manage, state.gates, state.storage, pulls=state.pulls)


def test_each_due_run_is_claimed_once_and_runs_under_one_lease(opened: RegistryState) -> None:
    opened.manage.add_project(OPERATOR, "p")
    first, second = Scheduler(_retention(opened)), Scheduler(_retention(opened))
    first.retention.set_policy(OPERATOR, "p", {"rules": [], "schedule": "0 3 * * *"})
    [(name, cron, due)] = first.store.schedules()
    first.store.set_schedule(GC_SCHEDULE, "30 3 * * *", next_time("30 3 * * *", due))
    [(gc, _, gc_due), _retention_p] = first.store.schedules()
    assert (gc, name, cron) == ("gc", "retention:p", "0 3 * * *") and due > 0
    assert first.tick(now=due - 1) == []  # not yet
    # two servers on one database at the same moment: one of them runs it
    assert first.tick(now=due + 1) == ["retention:p"]
    assert second.tick(now=due + 1) == []
    [run] = opened.meta.query("SELECT trigger, status FROM retention_runs")
    assert run == ("schedule", "done")
    # while one server holds the lease, the other leaves what is due for a later look:
    # the same slot runs once the lease is free, on whichever server looks first
    assert first.store.acquire_lease("maintenance", first.holder, 600)
    assert not second.store.acquire_lease("maintenance", second.holder, 600)
    assert second.tick(now=gc_due + 1) == []
    assert second.tick(now=gc_due + 2) == []
    first.store.release_lease("maintenance", first.holder)
    assert second.tick(now=gc_due + 3) == ["gc"]
    assert first.tick(now=gc_due + 4) == []  # claimed: not run twice
    assert second.store.acquire_lease("maintenance", second.holder, -1)  # expired at once
    assert first.store.acquire_lease("maintenance", first.holder, 600)  # so it is free
    first.store.release_lease("maintenance", first.holder)
    tomorrow = next_time("30 3 * * *", gc_due + 1) + 1  # both are due again
    assert first.tick(now=tomorrow) == ["gc", "retention:p"]
    assert any(e.action == "gc" and e.user == "scheduler" for e in opened.meta.audit())


def test_expired_uploads_are_swept_once_under_their_own_lease(opened: RegistryState) -> None:
    """Two servers on one database sweep expired upload sessions: one purges each, the
    audit log says which, and neither waits for the maintenance lease."""

    def scheduler() -> Scheduler:
        r = Retention(opened.meta, opened.manage, opened.gates, opened.storage, upload_expiry=3600)
        return Scheduler(r)

    first, second = scheduler(), scheduler()
    uploads = opened.uploads
    stale, fresh = uploads.begin("library/a"), uploads.begin("library/a")
    for session in (stale, fresh):
        session.write(b"left behind")
        uploads.release(session)
    with opened.meta.transaction() as db:  # begun two hours ago, not slept for
        db.execute("UPDATE uploads SET started = started - 7200 WHERE id = ?", (stale.id,))
    # another server sweeping right now: this one leaves it to that one
    assert second.store.acquire_lease(UPLOAD_SWEEP, second.holder, 600)
    assert first.sweep_uploads(uploads) == []
    assert opened.meta.upload_repo(stale.id) == "library/a"
    second.store.release_lease(UPLOAD_SWEEP, second.holder)
    # gc's lease held elsewhere does not hold the sweep back
    assert second.store.acquire_lease("maintenance", second.holder, 600)
    assert first.sweep_uploads(uploads) == [stale.id]
    assert second.sweep_uploads(uploads) == []  # gone: not purged (or audited) twice
    [entry] = opened.meta.audit(action="purge-upload")
    assert (entry.user, entry.repo, entry.ref) == ("scheduler", "library/a", stale.id)
    assert entry.detail.endswith(f":{os.getpid()}")  # which process purged it
    with pytest.raises(UploadUnknown):
        uploads.resume("library/a", stale.id)
    assert opened.storage.ingest_idle(f"upload-{stale.id}") is None  # its data too
    again = uploads.resume("library/a", fresh.id)  # the fresh one goes on
    assert again.offset == len(b"left behind")
    uploads.release(again)


def test_the_server_runs_retention_on_its_schedule(opened: RegistryState) -> None:
    opened.manage.add_project(OPERATOR, "p")
    every_second = {"rules": [], "schedule": "* * * * * *"}  # seconds: croniter's 6th field
    _retention(opened).set_policy(OPERATOR, "p", every_second)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(opened, 0.2), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not opened.meta.query("SELECT 1 FROM retention_runs WHERE trigger = 'schedule'"):
            assert time.monotonic() < deadline, "no scheduled run within 30 s"
            time.sleep(0.1)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_admin_cli_sets_shows_and_schedules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite only: the CLI's code is the same on both, and the run above covers PostgreSQL
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    state = open_registry(RegistryConfig(tmp_path / "data"))
    state.manage.add_project(OPERATOR, "p")
    state.meta.close()
    data = ["--data-dir", str(tmp_path / "data")]
    policy = {"rules": [{"keep": "latest_pushed", "count": 3, "tags": ["v*"]}], "gc_grace": 60}
    r = run_cli(["registry", "retention", "set", "p", "-", *data, "--format", "json"],
                stdin_text=json.dumps(policy))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rules"][0] == {
        "keep": "latest_pushed", "count": 3, "repositories": ["**"],
        "exclude_repositories": [], "tags": ["v*"], "exclude_tags": [], "untagged": False,
    }  # fmt: skip
    r = run_cli(["registry", "retention", "show", "p", *data])
    assert r.returncode == 0 and "latest_pushed 3" in r.stdout and "schedule: none" in r.stdout
    r = run_cli(["registry", "schedule", "--gc", "at three", *data])
    assert r.returncode != 0 and "--gc 'at three' is not a cron expression" in r.stderr
    r = run_cli(["registry", "schedule", "--gc", "0 4 * * *", *data, "--format", "json"])
    assert r.returncode == 0, r.stderr
    [gc] = json.loads(r.stdout)
    assert (gc["name"], gc["cron"]) == ("gc", "0 4 * * *") and gc["next_run"] > time.time()
