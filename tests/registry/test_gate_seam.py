"""The Gate seam: a gate registered on push, pull and delete is asked about each with
who, where and what at hand, and its refusal reaches the client as an error of the kind
it chose. Immutable tags are one such gate, checked inside the change's transaction, so
racing pushes cannot both move an immutable tag."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from imageforge.errors import Denied, ErrorKind, InvalidArgument
from imageforge.oci import Descriptor, Digest, IndexManifest, Manifest, digest_bytes, media
from imageforge.registry import RegistryState
from imageforge.registry.meta import MetaStore
from imageforge.registry.policy import Decision, GateContext, Gates
from imageforge.registry.service import Manifests, blobs_named_by, registry_gates
from imageforge.registry.storage import FsBlobStorage
from tests.registry.conftest import ADMIN_PASSWORD, serving
from tests.registry.test_api import _image, _put


def _allow(_image: Digest, _ctx: GateContext) -> Decision:
    return Decision(True)


@dataclass
class Recorder:
    decide: Callable[[Digest, GateContext], Decision] = _allow
    calls: list[tuple[Digest, GateContext]] = field(default_factory=list)

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        self.calls.append((image, ctx))
        return self.decide(image, ctx)


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30)


def test_a_gate_is_asked_about_push_pull_and_delete_with_what_it_needs(
    opened: RegistryState,
) -> None:
    gate = Recorder()
    opened.gates.register(gate, on=["push", "pull", "delete"])
    with serving(opened) as url, _client(url) as c:
        body = _image(c, "library/app", b"gated layer")
        digest = digest_bytes(body)
        assert _put(c, "library/app", "v1", body).status_code == 201
        assert c.get("/v2/library/app/manifests/v1").status_code == 200
        layer = Digest(str(Manifest.parse(body).layers[0].digest))
        assert c.delete(f"/v2/library/app/blobs/{layer}").status_code == 202
        assert c.delete("/v2/library/app/manifests/v1").status_code == 202
    seen = [(image, ctx.action, ctx.target, ctx.reference, ctx.tag) for image, ctx in gate.calls]
    assert seen == [
        (digest, "push", "manifest", "v1", "v1"),
        (digest, "pull", "manifest", "v1", "v1"),
        (layer, "delete", "blob", str(layer), None),
        (digest, "delete", "tag", "v1", "v1"),
    ]
    for _image_digest, ctx in gate.calls:
        assert (ctx.repository, ctx.project, ctx.user) == ("library/app", "library", "admin")
        assert ctx.state is not None
    push, pull = gate.calls[0][1], gate.calls[1][1]
    assert isinstance(push.manifest, Manifest) and push.media_type == media.OCI_MANIFEST
    pulled = pull.parsed_manifest()  # a pull's manifest is parsed when a gate asks
    assert isinstance(pulled, Manifest) and pulled.layers[0].digest == layer


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (ErrorKind.DENIED, 403, "DENIED"),
        (ErrorKind.UNAVAILABLE, 503, "UNAVAILABLE"),
        (ErrorKind.STEP_FAILED, 422, "DENIED"),
    ],
)
def test_a_refusal_reaches_the_client_as_its_kind(
    opened: RegistryState, kind: ErrorKind, status: int, code: str
) -> None:
    def refuse_pulls(_image: Digest, ctx: GateContext) -> Decision:
        if ctx.action == "pull":
            return Decision(False, "the scan of this image failed", kind=kind)
        return Decision(True)

    opened.gates.register(Recorder(refuse_pulls), on=["push", "pull"])
    with serving(opened) as url, _client(url) as c:
        assert _put(c, "library/app", "v1", _image(c, "library/app")).status_code == 201
        r = c.get("/v2/library/app/manifests/v1")
        assert r.status_code == status
        err = r.json()["errors"][0]
        assert err["code"] == code
        assert err["message"] == "pull refused by policy: the scan of this image failed"
        assert c.head("/v2/library/app/manifests/v1").status_code == status


def test_a_refused_delete_leaves_everything_in_place(opened: RegistryState) -> None:
    def keep_tags(_image: Digest, ctx: GateContext) -> Decision:
        if ctx.target == "tag":
            return Decision(False, f"{ctx.project} keeps its tags", hint="ask its owner")
        return Decision(True)

    opened.gates.register(Recorder(keep_tags), on=["delete"])
    with serving(opened) as url, _client(url) as c:
        body = _image(c, "library/app")
        assert _put(c, "library/app", "v1", body).status_code == 201
        r = c.delete("/v2/library/app/manifests/v1")
        assert r.status_code == 403
        assert (
            r.json()["errors"][0]["message"] == "delete refused by policy: library keeps its tags"
        )
        assert c.get("/v2/library/app/manifests/v1").content == body
        assert c.delete(f"/v2/library/app/manifests/{digest_bytes(body)}").status_code == 202
    refused = opened.meta.audit(result="refused", action="delete")
    assert [(a.repo, a.ref) for a in refused] == [("library/app", "v1")]


def test_gates_are_registered_on_known_actions_only() -> None:
    gates = Gates()
    with pytest.raises(InvalidArgument, match="not a non-empty subset of push, pull, delete"):
        gates.register(Recorder(), on=["upload"])
    with pytest.raises(InvalidArgument):
        gates.register(Recorder(), on=[])
    assert len(gates) == 0 and not gates.wants("pull")


def test_every_registry_has_the_immutable_tag_gate(opened: RegistryState) -> None:
    """Immutability is a gate like any other: a registry built without it (an empty
    ``Gates``) lets an immutable tag move, the standard one does not."""
    opened.meta.add_project("rel", False)
    opened.meta.set_immutable("rel", ["v*"])
    bare = RegistryState(
        opened.storage, opened.meta, opened.tokens, opened.authorizer, gates=Gates()
    )
    for state, second in ((opened, 403), (bare, 201)):
        with serving(state) as url, _client(url) as c:
            repo = f"rel/app{second}"
            assert _put(c, repo, "v1", _image(c, repo, b"one")).status_code == 201
            assert _put(c, repo, "v1", _image(c, repo, b"two")).status_code == second


def _pushable(meta: MetaStore, storage: FsBlobStorage, repo: str, n: int) -> list[bytes]:
    """``n`` different image manifests whose blobs ``repo`` holds."""
    config = b'{"architecture":"amd64","os":"linux"}'
    bodies = []
    for i in range(n):
        layer = f"layer {i}".encode()
        for blob in (config, layer):
            storage.write_blob(blob)
            meta.link_blob(repo, digest_bytes(blob))
        doc = Manifest(
            config=_desc(media.OCI_CONFIG, config),
            layers=(_desc(media.OCI_LAYER_GZIP, layer),),
        )
        bodies.append(doc.to_bytes())
    return bodies


def _desc(media_type: str, data: bytes) -> Descriptor:
    return Descriptor(media_type, digest_bytes(data), len(data))


def test_racing_pushes_move_an_immutable_tag_once(meta_db: str, tmp_path: Path) -> None:
    storage = FsBlobStorage(tmp_path)
    with MetaStore(meta_db) as meta:
        meta.add_project("rel", False)
        meta.set_immutable("rel", ["v*"])
        gates = registry_gates(functools.partial(blobs_named_by, storage))
        manifests = Manifests(meta, storage, gates)
        bodies = _pushable(meta, storage, "rel/app", 8)
        start = threading.Barrier(len(bodies))
        won: list[bytes] = []
        refused: list[str] = []

        def push(body: bytes) -> None:
            start.wait()
            try:
                manifests.push("rel/app", "v1", body, media.OCI_MANIFEST, "admin")
                won.append(body)
            except Denied as exc:
                refused.append(exc.message)

        threads = [threading.Thread(target=push, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(refused) == len(bodies) - 1
        assert all(m.startswith("tag rel/app:v1 is immutable and names") for m in refused)
        assert meta.resolve_tag("rel/app", "v1") == digest_bytes(won[0])


def test_an_index_pushed_and_pulled_is_read_once_as_an_index(opened: RegistryState) -> None:
    gate = Recorder()
    opened.gates.register(gate, on=["push"])
    with serving(opened) as url, _client(url) as c:
        child = _image(c, "library/multi")
        assert _put(c, "library/multi", str(digest_bytes(child)), child).status_code == 201
        entry = Descriptor(media.OCI_MANIFEST, digest_bytes(child), len(child))
        index = IndexManifest((entry,)).to_bytes()
        assert _put(c, "library/multi", "v1", index, media.OCI_INDEX).status_code == 201
    pushed = gate.calls[-1][1]
    assert isinstance(pushed.manifest, IndexManifest)
    assert [str(d.digest) for d in pushed.manifest.manifests] == [str(digest_bytes(child))]
