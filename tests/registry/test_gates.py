"""Gates injected from outside the registry are checked on push and pull."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from imageforge.oci import Digest
from imageforge.registry import RegistryConfig, create_app, open_registry
from imageforge.registry.policy import AllOf, Decision, GateContext
from tests.registry.conftest import ADMIN_PASSWORD, _free_port
from tests.registry.test_api import _image, _put


@dataclass
class Recorder:
    refuse: set[str] = field(default_factory=set)
    seen: list[tuple[str, str]] = field(default_factory=list)

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        self.seen.append((ctx.action, ctx.repository))
        if ctx.repository in self.refuse:
            return Decision(False, f"{ctx.repository} is quarantined")
        return Decision(True)


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Recorder]]:
    monkeypatch.setenv("IMAGEFORGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    gate = Recorder({"library/bad"})
    state = open_registry(
        RegistryConfig(tmp_path / "data"), push_gate=AllOf([gate]), pull_gate=gate
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", gate
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_push_and_pull_gates_decide(gated: tuple[str, Recorder]) -> None:
    url, gate = gated
    with httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30) as c:
        ok = _put(c, "library/good", "v1", _image(c, "library/good"))
        assert ok.status_code == 201
        assert c.get("/v2/library/good/manifests/v1").status_code == 200
        refused = _put(c, "library/bad", "v1", _image(c, "library/bad"))
        assert refused.status_code == 403
        err = refused.json()["errors"][0]
        assert err["code"] == "DENIED" and "quarantined" in err["message"]
        assert c.get("/v2/library/bad/tags/list").json()["tags"] == []
    assert ("push", "library/good") in gate.seen and ("pull", "library/good") in gate.seen
