"""Carrying what is attached from one place to another, in process: the layout each
object had, or the one asked for, and no doubling when carried twice."""

from __future__ import annotations

from pathlib import Path

from imageforge.oci import Reference
from imageforge.pipeline import Session, key_verifier, sign_image, verify_image
from imageforge.pipeline._sign_copy import carry_attached
from imageforge.pipeline._sign_repos import StoreRepository, resolve_target
from imageforge.pipeline._sign_store import SIGNATURES, find_attached
from imageforge.transports import TransportRef
from tests.sign.conftest import KeyPair, password_signer

HELLO = "docker.io/library/hello:1"
OTHER = "example.com/promoted/hello:1"


def test_a_legacy_signature_carried_as_a_referrer_verifies_once(
    images_root: Path, keys: KeyPair, tmp_path: Path
) -> None:
    root = images_root
    with Session(root) as s:
        signer = password_signer(keys)
        signed = sign_image(s, TransportRef("store", HELLO), signer)
        assert signed.stored.layout == "legacy"
        image = s.open(TransportRef("store", HELLO))
        s.store.refs.set(OTHER, image.digest, image.media_type)
        source = StoreRepository(s.store, Reference.parse(HELLO))
        destination = StoreRepository(s.store, Reference.parse(OTHER))
        for _ in range(2):  # a second carry finds it there and adds nothing
            carried = carry_attached(source, destination, image, mode="oci-1-1")
            assert (carried.signatures, carried.attestations) == (1, 0)
        found = find_attached(resolve_target(destination), SIGNATURES)
        assert [a.layout for a in found.attached] == ["oci-1-1"] and not found.problems
        verified = verify_image(s, TransportRef("store", OTHER), key_verifier(keys.public))
        assert str(verified.image.digest) == str(image.digest)
        assert verified.signatures[0].layout == "oci-1-1"
