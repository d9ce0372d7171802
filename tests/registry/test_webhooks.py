"""Webhooks (Harbor's): a receiver on loopback (a real HTTP server in the test) gets each
event it subscribed to once, signed with the webhook's secret, in Harbor's payload
shape; a delivery it missed while down is retried with backoff, from the database, even
across a ``kill -9`` of the registry; every attempt is in the delivery log. On SQLite
and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from imageforge.errors import Denied, InvalidArgument, Unsupported
from imageforge.registry import RegistryConfig, RegistryState, open_registry
from imageforge.registry._secrets import SecretBox
from imageforge.registry.events import Event, Resource
from imageforge.registry.service import OPERATOR
from imageforge.registry.webhooks import Deliverer, Webhooks, check_target, payload
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, _free_port, make_server, serving
from tests.registry.test_api import _image, _put

SECRET = "a-webhook-secret-of-some-length"


class Receiver:
    """A webhook receiver on a loopback port that can go down and come back."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.got: list[tuple[dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _stored_secrets(data: Path) -> dict[str, str]:
    """The secret column as the database holds it, read with sqlite3 itself."""
    with closing(sqlite3.connect(data / "meta.db")) as db:
        return {str(n): str(s) for n, s in db.execute("SELECT name, secret FROM webhooks")}


def _wait(what: str, done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)


@pytest.mark.slow
def test_each_event_arrives_once_signed_and_a_missed_one_is_retried_after_a_restart(
    tmp_path: Path, registry_db: str | None
) -> None:
    receiver = Receiver()
    receiver.start()
    config = "[registry]\nwebhook_retry_base = 0.3\nwebhook_attempts = 50\n"
    srv = make_server(tmp_path / "registry", config)
    srv.start()
    try:
        with srv.client() as c:
            assert c.post("/api/v1/projects", json={"name": "hooks"}).status_code == 201
            hook = {"name": "ci", "url": receiver.url, "events": ["push", "delete"]}
            r = c.post("/api/v1/projects/hooks/webhooks", json={**hook, "secret": SECRET})
            assert r.status_code == 201, r.text
            assert r.json()["secret"] == SECRET
            assert "secret" not in c.get("/api/v1/projects/hooks/webhooks/ci").json()
            first = _image(c, "hooks/app", b"one")
            assert _put(c, "hooks/app", "1", first).status_code == 201
            assert c.get("/v2/hooks/app/manifests/1").status_code == 200  # not subscribed
            assert c.delete("/v2/hooks/app/manifests/1").status_code == 202  # the tag
            _wait("push and delete delivered", lambda: len(receiver.got) == 2)

            receiver.stop()  # down: the next push's delivery fails, and is retried
            second = _image(c, "hooks/app", b"two")
            assert _put(c, "hooks/app", "2", second).status_code == 201

            def failed_twice() -> bool:
                rows = c.get("/api/v1/projects/hooks/webhooks/ci/deliveries").json()
                return bool(rows[0]["state"] == "pending" and rows[0]["attempts"] >= 2)

            _wait("two failed attempts", failed_twice)
        srv.stop(signal.SIGKILL)
        receiver.start()
        srv.start()
        _wait("the missed push delivered after the restart", lambda: len(receiver.got) == 3)
        time.sleep(1)  # and nothing more comes (each event once)
        assert len(receiver.got) == 3

        with srv.client() as c:
            rows = c.get("/api/v1/projects/hooks/webhooks/ci/deliveries").json()
        assert [(d["event"], d["state"], d["status"]) for d in rows] == [
            ("push", "delivered", 200), ("delete", "delivered", 200), ("push", "delivered", 200),
        ]  # fmt: skip
        retried = rows[0]
        assert retried["attempts"] >= 3 and retried["log"][-1]["status"] == 200
        assert all(a["status"] is None and a["error"] for a in retried["log"][:-1])
    finally:
        srv.stop()
        receiver.stop()

    ids = [h["x-imageforge-delivery"] for h, _ in receiver.got]
    assert len(set(ids)) == 3
    docs = []
    for headers, body in receiver.got:
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-imageforge-signature"] == f"sha256={mac}"
        docs.append(json.loads(body))
    assert [d["type"] for d in docs] == ["PUSH_ARTIFACT", "DELETE_ARTIFACT", "PUSH_ARTIFACT"]
    push = docs[0]
    assert push["operator"] == "admin" and isinstance(push["occur_at"], int)
    [resource] = push["event_data"]["resources"]
    assert resource["tag"] == "1" and resource["digest"].startswith("sha256:")
    assert resource["resource_url"] == f"127.0.0.1:{srv.port}/hooks/app:1"
    assert push["event_data"]["repository"] == {
        "name": "app", "namespace": "hooks", "repo_full_name": "hooks/app",
    }  # fmt: skip
    assert docs[2]["event_data"]["resources"][0]["tag"] == "2"


def test_webhook_targets_and_bodies_are_checked(opened: RegistryState) -> None:
    check_target("http://127.0.0.1:9/x", private_ok=True)
    for bad in ("ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "http://h:port/"):
        with pytest.raises(InvalidArgument, match="webhook URL"):
            check_target(bad, private_ok=True)
    for private in (
        "http://127.0.0.1/x",
        "http://localhost:8080/x",
        "https://10.1.2.3/",
        "http://[::1]/",
    ):
        with pytest.raises(Denied, match="not a public address"):
            check_target(private, private_ok=False)
    opened.manage.add_project(OPERATOR, "p")
    hooks = opened.webhooks
    for bad_events in ([], ["push", "promote"]):
        with pytest.raises(InvalidArgument, match="choose from push, pull, delete"):
            hooks.add(opened.manage, OPERATOR, "p", "ci", "http://127.0.0.1:9/", bad_events)
    row, secret = hooks.add(opened.manage, OPERATOR, "p", "ci", "http://127.0.0.1:9/", ["push"])
    assert len(secret) >= 32 and row.events == {"push"}
    with pytest.raises(InvalidArgument, match="has a webhook named ci already"):
        hooks.add(opened.manage, OPERATOR, "p", "ci", "http://127.0.0.1:9/", ["push"])


def test_a_delivery_that_keeps_failing_backs_off_then_fails(opened: RegistryState) -> None:
    """Every event type reaches the payload in Harbor's shape (scan events through the
    same emit); an answer outside 2xx is retried with a doubling wait, then failed."""
    opened.manage.add_project(OPERATOR, "p")
    seen: list[int] = []

    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(1)
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/"
    hooks = opened.webhooks
    hooks.retry_base, hooks.attempts = 0.05, 3
    hooks.add(opened.manage, OPERATOR, "p", "scan", url, ["scan_completed"])
    scan = Event(
        "scan_completed", "p", "scanner", "p/app",
        [Resource("sha256:ab", None, "h/p/app@sha256:ab")], {"scan_overview": {"critical": 1}},
    )  # fmt: skip
    assert payload(scan)["type"] == "SCANNING_COMPLETED"
    opened.events.emit(scan)
    deliverer = Deliverer(hooks)
    try:
        assert deliverer.backoff(1) == 0.05 and deliverer.backoff(3) == 0.2

        def tried_three_times() -> bool:
            deliverer.step()  # what is due now: the first attempt, then each retry
            return len(seen) >= 3

        _wait("three attempts", tried_three_times, 10)
    finally:
        deliverer.close()
        receiver.shutdown()
        receiver.server_close()
    [d] = hooks.store.deliveries(hooks.store.hooks("p")[0].id)
    assert (d.state, d.attempts, d.status, d.error) == ("failed", 3, 503, "answered 503")
    assert json.loads(d.payload)["event_data"]["scan_overview"] == {"critical": 1}


def test_quota_and_retention_events_are_queued_for_their_webhooks(opened: RegistryState) -> None:
    opened.manage.add_project(OPERATOR, "q")
    wanted = ["quota_warning", "quota_exceeded", "retention", "delete"]
    hooks = opened.webhooks
    row, _ = hooks.add(opened.manage, OPERATOR, "q", "ops", "http://127.0.0.1:9/", wanted)
    with serving(opened) as url, httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD)) as c:
        first = _image(c, "q/app", b"x" * 1000)
        assert _put(c, "q/app", "1", first).status_code == 201
        used = c.get("/api/v1/projects/q/quota").json()["used"]
        r = c.put("/api/v1/projects/q/quota", json={"limit": used + 1000, "warn_percent": 50})
        assert r.status_code == 200
        again = json.loads(first)
        again["annotations"] = {"n": "2"}
        assert _put(c, "q/app", "2", json.dumps(again).encode()).status_code == 201  # warns
        big = b"y" * 5000
        digest = "sha256:" + hashlib.sha256(big).hexdigest()
        r = c.post("/v2/q/app/blobs/uploads/", params={"digest": digest}, content=big)
        assert r.status_code == 403  # over the quota
        policy = {"rules": [{"keep": "latest_pushed", "count": 1}], "gc_grace": 3600}
        assert c.put("/api/v1/projects/q/retention", json=policy).status_code == 200
        assert c.post("/api/v1/projects/q/retention/runs", json={}).status_code == 201
    docs = {d.event: json.loads(d.payload) for d in hooks.store.deliveries(row.id)}
    assert set(docs) == set(wanted)
    assert docs["quota_warning"]["event_data"]["quota"]["warn_percent"] == 50
    assert docs["quota_exceeded"]["type"] == "QUOTA_EXCEED"
    assert "over its storage quota" in docs["quota_exceeded"]["event_data"]["message"]
    assert docs["retention"]["type"] == "TAG_RETENTION"
    assert docs["retention"]["event_data"]["retention"]["deleted"] == 1
    [gone] = docs["retention"]["event_data"]["resources"]
    assert gone["tag"] == "1" and docs["delete"]["event_data"]["resources"] == [gone]


def test_secrets_are_sealed_at_rest_and_deliveries_still_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite only (the raw row read with sqlite3): a secret is stored sealed, one an
    older version stored in clear is sealed when the registry opens, and deliveries are
    signed with the secret itself; another key fails the delivery naming the key file."""
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    monkeypatch.delenv("IMAGEFORGE_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    data = tmp_path / "data"
    old_secret = "an-older-version-kept-me-in-clear"
    receiver = Receiver()
    receiver.start()
    state = open_registry(RegistryConfig(data))
    try:
        state.manage.add_project(OPERATOR, "p")
        state.webhooks.add(state.manage, OPERATOR, "p", "new", receiver.url, ["push"], SECRET)
    finally:
        state.meta.close()
    with closing(sqlite3.connect(data / "meta.db")) as db, db:  # as an older version wrote it
        db.execute(
            "INSERT INTO webhooks (project, name, url, secret, events, enabled, created)"
            " VALUES ('p', 'old', ?, ?, 'push', 1, 0)",
            (receiver.url, old_secret),
        )
    assert SECRET not in _stored_secrets(data)["new"]
    assert _stored_secrets(data)["old"] == old_secret
    state = open_registry(RegistryConfig(data))  # opening the registry seals it
    try:
        sealed = _stored_secrets(data)
        assert SECRET not in sealed["new"] and old_secret not in sealed["old"]
        Webhooks(state.meta, secrets=state.secrets)  # opened again: nothing sealed twice
        assert _stored_secrets(data) == sealed
        push = Event("push", "p", "admin", "p/app", [Resource("sha256:ab", "1")])
        state.events.emit(push)
        deliverer = Deliverer(state.webhooks)

        def both_delivered() -> bool:
            deliverer.step()
            return len(receiver.got) == 2

        try:
            _wait("both delivered", both_delivered)
        finally:
            deliverer.close()
        expected = set()
        for secret in (SECRET, old_secret):
            mac = hmac.new(secret.encode(), receiver.got[0][1], hashlib.sha256).hexdigest()
            expected.add(f"sha256={mac}")
        assert {h["x-imageforge-signature"] for h, _ in receiver.got} == expected

        other = tmp_path / "other.key"  # a replica given the wrong --secret-key-file
        wrong = Webhooks(state.meta, secrets=SecretBox(other))
        wrong.emit(push)
        deliverer = Deliverer(wrong)
        try:
            assert deliverer.step() == 2
        finally:
            deliverer.close()
        assert len(receiver.got) == 2  # nothing sent unsigned or wrongly signed
        for hook in wrong.store.hooks("p"):
            latest = wrong.store.deliveries(hook.id)[0]
            assert latest.state == "failed"
            assert "cannot be opened with this secret key" in latest.error
            assert str(other) in latest.error
        assert _stored_secrets(data) == sealed
        keyless = Webhooks(state.meta)  # a process given no key cannot store a secret
        with pytest.raises(Unsupported, match="without its secret key: webhook secrets"):
            keyless.add(state.manage, OPERATOR, "p", "third", receiver.url, ["push"], SECRET)
        assert set(_stored_secrets(data)) == {"new", "old"}
    finally:
        state.meta.close()
        receiver.stop()


def test_the_admin_cli_adds_shows_deliveries_and_removes_a_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite only: the CLI's code is the same on both backends
    monkeypatch.delenv("IMAGEFORGE_REGISTRY_DB", raising=False)
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    state = open_registry(RegistryConfig(tmp_path / "data"))
    data = ["--data-dir", str(tmp_path / "data")]
    try:
        state.manage.add_project(OPERATOR, "p")
        r = run_cli(
            ["registry", "webhook", "add", "p", "ci", "http://127.0.0.1:9/h", "--event", "push",
             "--secret-env", "HOOK_SECRET", "--format", "json", *data]
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["secret"] == SECRET
        assert SECRET not in _stored_secrets(tmp_path / "data")["ci"]
        [hook] = state.webhooks.store.hooks("p")  # the serving registry opens it
        assert state.webhooks.store.secret(hook) == SECRET
        state.events.emit(Event("push", "p", "admin", "p/app", [Resource("sha256:ab", "1")]))
        r = run_cli(["registry", "webhook", "deliveries", "p", "ci", *data])
        assert r.returncode == 0, r.stderr
        assert "push" in r.stdout and "pending" in r.stdout
        r = run_cli(["registry", "webhook", "rm", "p", "ci", *data])
        assert r.returncode == 0 and "webhook ci deleted" in r.stderr
        [d] = state.webhooks.store.deliveries(1)
        assert (d.state, d.error) == ("failed", "webhook deleted")
    finally:
        state.meta.close()
