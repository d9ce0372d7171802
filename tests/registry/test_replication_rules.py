"""Replication rules without a remote: what a rule selects and refuses (clear errors,
nothing stored), that only system admins manage rules, that a password is stored for the
copies but never shown, the run history on both metadata backends, an item that fails
once is retried, and the bandwidth limit's token bucket."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from imageforge.errors import (
    Conflict,
    Denied,
    InvalidArgument,
    NotFound,
    Unavailable,
    Unsupported,
)
from imageforge.oci import Digest
from imageforge.pipeline._registry_replicator import TokenBucket
from imageforge.registry import RegistryState
from imageforge.registry._secrets import SecretBox
from imageforge.registry.auth import hash_password
from imageforge.registry.events import Event
from imageforge.registry.replication import (
    SCHEDULE_PREFIX,
    Endpoint,
    Replication,
    Transfer,
    rule_from_json,
)
from imageforge.registry.retention import Retention, Scheduler
from imageforge.registry.service import OPERATOR

RULE = {"name": "r1", "endpoint": {"url": "http://127.0.0.1:5999", "username": "u",
                                   "password": "pa55word"}}  # fmt: skip
DIGEST = "sha256:" + "ab" * 32


def test_a_rule_selects_by_repository_tag_and_label_and_names_the_destination() -> None:
    rule = rule_from_json(
        {**RULE, "repositories": ["team/**", "{a,b}/x"], "exclude_repositories": ["team/tmp*"],
         "tags": ["v*"], "exclude_tags": ["*-rc*"], "labels": ["tier=prod", "owner"],
         "destination_namespace": "mirror"}
    )  # fmt: skip
    assert rule.selects_repository("team/app/api") and rule.selects_repository("b/x")
    assert not rule.selects_repository("team/tmp1") and not rule.selects_repository("c/x")
    assert rule.selects_tag("v1.2") and not rule.selects_tag("v1.2-rc1")
    assert not rule.selects_tag("latest")
    assert rule.selects_labels({"tier": "prod", "owner": "me"})
    assert not rule.selects_labels({"tier": "dev", "owner": "me"})
    assert not rule.selects_labels({"tier": "prod"})
    assert rule.destination("team/app/api") == "mirror/app/api"
    assert rule.endpoint.insecure  # http://
    assert "pa55word" not in repr(rule) and "pa55word" not in str(rule.to_json())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Bad Name"}, "invalid replication rule name"),
        ({"endpoint": {"url": "ftp://x"}}, "is not http(s)://HOST[:PORT]"),
        ({"endpoint": {"url": "http://h/path"}}, "is not http(s)://HOST[:PORT]"),
        ({"endpoint": {"url": "http://["}}, "is not http(s)://HOST[:PORT]"),
        ({"endpoint": {"url": "http://[::1:5000"}}, "is not http(s)://HOST[:PORT]"),
        ({"endpoint": {"url": "http://h:99999"}}, "is not http(s)://HOST[:PORT]"),
        ({"endpoint": {"url": "http://h", "username": "u"}}, "go together"),
        ({"trigger": "cron"}, "needs cron"),
        ({"trigger": "cron", "cron": "every day"}, "is not a cron expression"),
        ({"cron": "0 3 * * *"}, "the trigger is manual"),
        ({"trigger": "hourly"}, "is not one of manual, cron, on_push"),
        ({"tags": [""]}, "tags is not a list of non-empty globs"),
        ({"bandwidth": -1}, "bytes per second"),
        ({"surprise": 1}, "unknown replication rule keys: surprise"),
        ({"destination_namespace": "../x"}, "is not a repository path"),
        ({"direction": "sideways"}, "direction 'sideways' is not one of push, pull"),
        ({"direction": "pull", "trigger": "on_push"}, "a pull rule cannot be triggered on push"),
    ],
)
def test_a_bad_rule_is_refused_saying_what_is_wrong(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        rule_from_json({**RULE, **change})


class _Flaky:
    """A replicator whose first copy of each item fails as a dropped connection does
    (a fault a loopback registry does not make on demand); it records the copies."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def push(
        self, repository: str, digest: Digest, tag: str, endpoint: Endpoint, destination: str,
        bandwidth: int,
    ) -> Transfer:  # fmt: skip
        self.calls.append((repository, tag, destination))
        if self.calls.count((repository, tag, destination)) == 1:
            raise Unavailable(f"{endpoint.host}: connection reset")
        return Transfer(100, 2)

    def delete(self, endpoint: Endpoint, destination: str, tag: str) -> None:
        self.calls.append(("delete", tag, destination))


def test_rules_runs_and_history_on_both_backends(opened: RegistryState, tmp_path: Path) -> None:
    events: list[Event] = []

    class Sink:
        def emit(self, event: Event) -> None:
            events.append(event)

    flaky = _Flaky()
    r = Replication(
        opened.meta, opened.manage, flaky, events=Sink(), retry_base=0.01,
        secrets=SecretBox(tmp_path / "secret.key"),
    )  # fmt: skip
    opened.meta.add_user("bob", hash_password("bob-pass-1"))
    with pytest.raises(Denied, match="bob is not a system admin"):
        r.add("bob", RULE)
    # a pull rule is kept, but this replicator cannot pull: refused, no run recorded
    r.add(OPERATOR, {**RULE, "name": "from-there", "direction": "pull"})
    assert r.rule(OPERATOR, "from-there").to_json()["direction"] == "pull"
    with pytest.raises(Unsupported, match="a replicator that only pushes"):
        r.run(OPERATOR, "from-there")
    assert r.history(OPERATOR, "from-there") == []
    r.delete(OPERATOR, "from-there")
    rule = r.add("admin", {**RULE, "trigger": "cron", "cron": "0 3 * * *"})
    assert [x.name for x in r.rules("admin")] == ["r1"]
    with pytest.raises(Denied):
        r.rules("bob")
    # the password is stored for the copies, shown nowhere
    assert r.rule(OPERATOR, "r1").endpoint.password == "pa55word"
    assert "pa55word" not in str(rule.to_json())
    assert ("replication:r1", "0 3 * * *") in [(n, c) for n, c, _ in r.schedules.schedules()]

    run = r.run(OPERATOR, "r1", items=[("copy", "library/a", "1", DIGEST, "library/a")])
    assert run.status == "done" and run.to_json()["blobs"] == 2
    [item] = run.items
    assert item.attempts == 2 and item.error == "" and item.bytes == 100
    assert [h.id for h in r.history("admin", "r1")] == [run.id]
    assert r.get_run(OPERATOR, run.id).items == run.items
    [event] = events
    assert event.type == "replication" and event.project == "library"
    assert event.data["replication"]["status"] == "done"

    # cron: retention's scheduler claims the due run and runs it under its lease
    scheduler = Scheduler(Retention(opened.meta, opened.manage, opened.gates, opened.storage))
    scheduler.handlers[SCHEDULE_PREFIX] = r.scheduled
    r.schedules.set_schedule("replication:r1", "0 3 * * *", 0.0)  # due long ago
    assert scheduler.tick() == ["replication:r1"]
    assert r.history(OPERATOR, "r1")[0].trigger == "cron"

    r.delete("admin", "r1")
    with pytest.raises(NotFound, match="replication rule r1 does not exist"):
        r.rule(OPERATOR, "r1")
    assert not [n for n, _, _ in r.schedules.schedules() if n == "replication:r1"]


class _Slow:
    """A replicator taking ``seconds`` per copy."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls: list[str] = []

    def push(
        self, repository: str, digest: Digest, tag: str, endpoint: Endpoint, destination: str,
        bandwidth: int,
    ) -> Transfer:  # fmt: skip
        self.calls.append(f"{repository}:{tag}")
        time.sleep(self.seconds)
        return Transfer(10, 1)

    def delete(self, endpoint: Endpoint, destination: str, tag: str) -> None:
        raise AssertionError("no deletes here")


def test_a_run_whose_process_died_is_continued_once_its_lease_expires(
    opened: RegistryState, tmp_path: Path
) -> None:
    """Two Replication objects are two processes on one database: the first starts
    runs and dies (never executes them); the second leaves them alone while their lease
    lives, then continues one in the rule's next run and takes the other over."""
    ttl = 0.3
    box = SecretBox(tmp_path / "secret.key")
    dead = Replication(opened.meta, opened.manage, _Slow(0), lease_ttl=ttl, secrets=box)
    dead.add(OPERATOR, RULE)
    a = ("copy", "library/a", "1", DIGEST, "library/a")
    b = ("copy", "library/b", "1", DIGEST, "library/b")
    first = dead.start(OPERATOR, "r1", items=[a, b])
    slow = _Slow(ttl * 2)  # a copy outlives the lease: the heartbeat keeps it
    live = Replication(opened.meta, opened.manage, slow, lease_ttl=ttl, secrets=box)
    assert live.recover() == []  # the lease of the first run still lives
    time.sleep(ttl * 1.5)

    run = live.run(OPERATOR, "r1", items=[b])  # the rule's next trigger
    assert [(i.repository, i.status) for i in run.items] == [
        ("library/b", "done"), ("library/a", "done")
    ]  # fmt: skip
    old = live.get_run(OPERATOR, first.id)
    assert old.status == "interrupted" and f"run {run.id} continues it" in old.error
    assert live.recover() == []  # the heartbeat renewed the lease through each copy

    second = dead.start(OPERATOR, "r1", items=[a])
    time.sleep(ttl * 1.5)
    assert live.recover() == [second.id]
    deadline = time.monotonic() + 30
    while live.get_run(OPERATOR, second.id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.get_run(OPERATOR, second.id).status == "done"
    _join_run(second.id)
    assert slow.calls == ["library/b:1", "library/a:1", "library/a:1"]

    # a run this process is still copying is its own: never taken over by itself
    third = live.start(OPERATOR, "r1", items=[b])
    live.execute_later(OPERATOR, third)
    time.sleep(ttl * 1.5)
    assert live.recover() == []
    while live.get_run(OPERATOR, third.id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.get_run(OPERATOR, third.id).status == "done" and len(slow.calls) == 4
    _join_run(third.id)


def _join_run(run_id: int) -> None:
    """Wait for the thread running ``run_id`` in the background to end (its lease's
    heartbeat stopped): the database is closed after the test, under a thread still
    using it SQLite may crash the process."""
    for thread in threading.enumerate():
        if thread.name == f"replication-{run_id}":
            thread.join(30)
            assert not thread.is_alive()


def _stored(r: Replication) -> str:
    """Every stored rule and endpoint document, as the database holds them."""
    rows = r.meta.query("SELECT doc FROM replication_rules")
    rows += r.meta.query("SELECT doc FROM replication_endpoints")
    return "\n".join(str(x[0]) for x in rows)


def test_passwords_are_sealed_and_a_wrong_key_is_named(
    opened: RegistryState, tmp_path: Path
) -> None:
    key = tmp_path / "secret.key"
    r = Replication(opened.meta, opened.manage, None, secrets=SecretBox(key))
    r.add(OPERATOR, RULE)
    r.add_endpoint(OPERATOR, "hub", {"url": "https://hub.example", "username": "u",
                                     "password": "hub-secret-9"})  # fmt: skip
    assert "pa55word" not in _stored(r) and "hub-secret-9" not in _stored(r)
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    assert r.rule(OPERATOR, "r1").endpoint.password == "pa55word"
    assert r.endpoint(OPERATOR, "hub").password == "hub-secret-9"

    # a rule an earlier version stored with its password in clear: sealed on opening
    legacy = {"name": "old", "endpoint": {"url": "http://127.0.0.1:5999", "username": "u",
                                          "password": "clear-1"}}  # fmt: skip
    with opened.meta.transaction() as db:
        db.execute("INSERT INTO replication_rules (name, doc, created) VALUES (?, ?, 0)",
                   ("old", json.dumps(legacy)))  # fmt: skip
    assert "clear-1" in _stored(r)
    again = Replication(opened.meta, opened.manage, None, secrets=SecretBox(key))
    assert "clear-1" not in _stored(again)
    assert again.rule(OPERATOR, "old").endpoint.password == "clear-1"

    other = tmp_path / "other.key"
    wrong = Replication(opened.meta, opened.manage, None, secrets=SecretBox(other))
    with pytest.raises(InvalidArgument, match="cannot be opened with this secret key") as err:
        wrong.rule(OPERATOR, "r1")
    assert err.value.location is not None and str(other) in str(err.value.location)
    # a scheduled run on a server with the wrong key: no one sees its error, so the
    # history keeps it as a failed run with the cause
    with pytest.raises(InvalidArgument):
        wrong.scheduled("replication:r1")
    [run] = wrong.history(OPERATOR, "r1")
    assert (run.status, run.trigger) == ("failed", "cron")
    assert "cannot be opened with this secret key" in run.error
    key.write_text("not a key\n")
    with pytest.raises(InvalidArgument, match=r"not a secret key \(64 hex digits\)"):
        Replication(opened.meta, opened.manage, None, secrets=SecretBox(key)).rule(OPERATOR, "r1")


def test_named_endpoints_are_shared_by_rules_and_kept_while_used(
    opened: RegistryState, tmp_path: Path
) -> None:
    r = Replication(opened.meta, opened.manage, None, secrets=SecretBox(tmp_path / "k"))
    with pytest.raises(InvalidArgument, match="replication endpoint hub does not exist"):
        r.add(OPERATOR, {"name": "r2", "endpoint": "hub"})
    with pytest.raises(InvalidArgument, match="is not http"):
        r.add_endpoint(OPERATOR, "hub", {"url": "ftp://hub.example"})
    with pytest.raises(InvalidArgument, match="invalid replication endpoint name"):
        r.add_endpoint(OPERATOR, "Hub!", {"url": "https://hub.example"})
    r.add_endpoint(OPERATOR, "hub", {"url": "https://hub.example"})
    with pytest.raises(Conflict, match="replication endpoint hub exists"):
        r.add_endpoint(OPERATOR, "hub", {"url": "https://other.example"})
    rule = r.add(OPERATOR, {"name": "r2", "endpoint": "hub"})
    assert rule.endpoint.url == "https://hub.example"
    assert rule.to_json()["endpoint"]["name"] == "hub"
    # a change of the endpoint reaches the rules that name it
    r.add_endpoint(OPERATOR, "hub", {"url": "https://new.example", "username": "u",
                                     "password": "p"}, replace=True)  # fmt: skip
    assert r.rule(OPERATOR, "r2").endpoint.url == "https://new.example"
    with pytest.raises(Conflict, match="used by rule\\(s\\) r2"):
        r.delete_endpoint(OPERATOR, "hub")
    r.delete(OPERATOR, "r2")
    r.delete_endpoint(OPERATOR, "hub")
    assert r.endpoints(OPERATOR) == []
    with pytest.raises(NotFound):
        r.delete_endpoint(OPERATOR, "hub")


def test_the_token_bucket_holds_a_rate() -> None:
    bucket = TokenBucket(20_000)  # a burst of one second's worth, then 20 kB/s
    start = time.monotonic()
    for _ in range(5):
        bucket.take(6_000)
    assert time.monotonic() - start >= 0.45  # 30 kB: 20 kB at once, 10 kB at 20 kB/s
