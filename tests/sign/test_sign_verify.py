"""``sign`` and ``verify`` end to end, against imageforge's registry (referrers API) and
distribution 2.8 (no referrers API: the legacy tag, or the referrers tag schema): push ->
sign -> verify passes; a changed image, signature or payload, a signature copied from
another digest, another key, a damaged signature manifest each fail with their reason;
a wrong password or a truncated key stores nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from imageforge.oci import Manifest, Reference, digest_bytes
from imageforge.pipeline import Session, key_signer, key_verifier, sign_image, verify_image
from imageforge.remote import registry_host
from imageforge.sign import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignedLayer,
    VerificationFailed,
    signature_tag,
)
from tests.conftest import run_cli
from tests.remote.conftest import ok
from tests.sign.conftest import (
    PASSWORD,
    KeyPair,
    Registry,
    put_signatures,
    signature_layers,
    write_pair,
)


def _password() -> bytes:
    return PASSWORD.encode()


def _tags(s: Session, registry: Registry, name: str) -> list[str]:
    ref = Reference.parse(registry.ref(name))
    return s.client.list_tags(registry_host(ref.domain), ref.path)


def _verify(registry: Registry, keys: KeyPair, *extra: str) -> tuple[int, dict[str, object], str]:
    r = run_cli(
        registry.cli(
            "verify", registry.ref("hello:1"), "--key", str(keys.public), "--format", "json", *extra
        )
    )
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["legacy", "oci-1-1"])
def test_push_sign_verify_passes(registry: Registry, keys: KeyPair, mode: str) -> None:
    digest = registry.push("hello:1", "hello:1")
    signed = ok(
        run_cli(
            registry.cli(
                "sign",
                f"docker://{registry.ref('hello:1')}",
                "--key",
                str(keys.private),
                "-a",
                "env=prod",
                "--registry-referrers-mode",
                mode,
                "--format",
                "json",
            ),
            env=registry.env,
        )
    )
    doc = json.loads(signed.stdout)
    assert doc["digest"] == digest and doc["layout"] == mode
    # no key material and no password printed
    assert PASSWORD not in signed.stdout + signed.stderr
    assert "PRIVATE KEY" not in signed.stdout + signed.stderr

    code, out, err = _verify(registry, keys, "-a", "env=prod")
    assert code == 0, err
    assert out["verified"] is True and out["digest"] == digest
    sigs = out["signatures"]
    assert isinstance(sigs, list)
    [sig] = sigs
    assert sig["layout"] == mode and sig["annotations"] == {"env": "prod"}
    assert sig["dockerReference"] == registry.ref("hello")

    # where cosign would look for it
    with registry.session() as s:
        tags = _tags(s, registry, "hello")
        hex_ = digest.split(":")[1]
        if mode == "legacy":
            assert f"sha256-{hex_}.sig" in tags
        elif registry.kind == "distribution":  # no referrers API: the tag schema
            assert f"sha256-{hex_}" in tags and f"sha256-{hex_}.sig" not in tags
        else:  # the referrers API lists it, no tag is made
            ref = Reference.parse(registry.ref("hello"))
            resp = s.client.request(
                "GET", registry.host, f"/v2/{ref.path}/referrers/{digest}", what="referrers"
            )
            assert [m["digest"] for m in resp.json()["manifests"]] == [doc["manifest"]]
            assert not any(t.startswith("sha256-") for t in tags)

    # an annotation the signature does not carry
    code, out, err = _verify(registry, keys, "-a", "env=dev")
    assert code == 8 and out["reason"] == "annotation-mismatch", err
    assert "has env='prod', not 'dev'" in err


@pytest.mark.slow
def test_signatures_append_and_both_layouts_are_found(registry: Registry, tmp_path: Path) -> None:
    first, second = write_pair(tmp_path / "a"), write_pair(tmp_path / "b", "ed25519")
    digest = registry.push("hello:1", "hello:1")
    image = registry.ref("hello:1")
    with registry.session() as s:
        sign_image(s, image, key_signer(first.private, lambda _: _password()))
        sign_image(s, image, key_signer(second.private, lambda _: _password()))
        sign_image(s, image, key_signer(second.private, lambda _: _password()), mode="oci-1-1")
        # cosign appends to the .sig manifest: both signatures are in it
        assert len(signature_layers(s, registry, digest)) == 2
        assert len(verify_image(s, image, key_verifier(first.public)).signatures) == 1
        layouts = [
            sig.layout for sig in verify_image(s, image, key_verifier(second.public)).signatures
        ]
        assert sorted(layouts) == ["legacy", "oci-1-1"]


@pytest.mark.slow
def test_changed_image_signature_or_payload_fails_with_the_reason(
    registry: Registry, keys: KeyPair
) -> None:
    signed = registry.push("hello:1", "hello:1")
    with registry.session() as s:
        sign_image(s, registry.ref("hello:1"), key_signer(keys.private, lambda _: _password()))
    assert _verify(registry, keys)[0] == 0

    # one byte changed in the image: the tag now names another digest, never signed
    changed = registry.push("hello:2", "hello:1")
    assert changed != signed
    code, out, err = _verify(registry, keys)
    assert code == 8 and out["reason"] == "no-signature", err
    assert f"{changed}: no signature found" in err

    # the signature of the first image copied onto the changed one
    with registry.session() as s:
        put_signatures(s, registry, changed, signature_layers(s, registry, signed))
    code, out, err = _verify(registry, keys)
    assert code == 8 and out["reason"] == "wrong-digest", err
    assert f"names image {signed}, not {changed}" in err

    # back to the signed image; one byte of its signature changed
    registry.push("hello:1", "hello:1")
    with registry.session() as s:
        [good] = signature_layers(s, registry, signed)
        raw = bytearray(base64.b64decode(good.signature))
        raw[-1] ^= 0x01
        bad_sig = SignedLayer(good.payload, base64.b64encode(bytes(raw)).decode())
        put_signatures(s, registry, signed, [bad_sig])
    code, out, err = _verify(registry, keys)
    assert code == 8 and out["reason"] == "bad-signature", err

    # one byte changed in the payload (stored under its own digest, so the manifest is
    # consistent; only the signature can tell)
    with registry.session() as s:
        payload = good.payload.replace(b"hello", b"hellp", 1)
        assert payload != good.payload
        put_signatures(s, registry, signed, [SignedLayer(payload, good.signature)])
    code, out, err = _verify(registry, keys)
    assert code == 8 and out["reason"] == "bad-signature", err
    assert "changed after signing, or it was signed by another key" in err

    # the good signature back beside the bad ones: verify passes on it
    with registry.session() as s:
        put_signatures(s, registry, signed, [bad_sig, good])
    assert _verify(registry, keys)[0] == 0


@pytest.mark.slow
def test_signature_by_another_key_is_refused(registry: Registry, tmp_path: Path) -> None:
    mine, theirs = write_pair(tmp_path / "mine"), write_pair(tmp_path / "theirs")
    registry.push("hello:1", "hello:1")
    with registry.session() as s:
        sign_image(s, registry.ref("hello:1"), key_signer(theirs.private, lambda _: _password()))
        with pytest.raises(VerificationFailed) as failed:
            verify_image(s, registry.ref("hello:1"), key_verifier(mine.public))
    assert failed.value.reason == "bad-signature"
    assert failed.value.hint is not None and "signed by another key" in failed.value.hint
    code, out, err = _verify(registry, mine)
    assert code == 8 and out["reason"] == "bad-signature" and "hint:" in err


@pytest.mark.slow
def test_wrong_password_or_truncated_key_is_clear_and_stores_nothing(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    registry.push("hello:1", "hello:1")
    image = registry.ref("hello:1")
    r = run_cli(
        registry.cli("sign", image, "--key", str(keys.private)), env={"COSIGN_PASSWORD": "wrong"}
    )
    assert r.returncode == 7, r.stderr  # Unauthorized
    assert "wrong password" in r.stderr and "hint:" in r.stderr

    truncated = tmp_path / "truncated.key"
    text = keys.private.read_bytes()
    truncated.write_bytes(text[: len(text) // 2])
    r = run_cli(registry.cli("sign", image, "--key", str(truncated)), env=registry.env)
    assert r.returncode == 2, r.stderr  # InvalidArgument
    assert "truncated" in r.stderr and str(truncated) in r.stderr

    r = run_cli(registry.cli("sign", image, "--key", str(tmp_path / "none.key")), env=registry.env)
    assert r.returncode == 3 and "no such private key file" in r.stderr, r.stderr

    # no terminal and no COSIGN_PASSWORD: refused before anything is written
    r = run_cli(registry.cli("sign", image, "--key", str(keys.private)))
    assert r.returncode == 7 and "COSIGN_PASSWORD" in r.stderr, r.stderr

    with registry.session() as s:
        assert _tags(s, registry, "hello") == ["1"]
    code, out, _ = _verify(registry, keys)
    assert code == 8 and out["reason"] == "no-signature"


@pytest.mark.slow
def test_garbage_signature_manifest_is_malformed_and_not_overwritten(
    registry: Registry, keys: KeyPair
) -> None:
    digest = registry.push("hello:1", "hello:1")
    ref = Reference.parse(registry.ref("hello"))
    garbage = b"not a signature"
    layer = SignedLayer(garbage, "c2lnbmF0dXJl")  # a payload that is not simple signing
    with registry.session() as s:
        put_signatures(s, registry, digest, [layer])
    code, out, err = _verify(registry, keys)
    assert code == 8 and out["reason"] in ("bad-signature", "malformed"), err

    # a signature manifest whose layer has lost its annotation: malformed, named
    with registry.session() as s:
        raw = s.client.get_manifest(registry.host, ref.path, signature_tag(digest))[0]
        doc = json.loads(raw)
        del doc["layers"][0]["annotations"]
        stripped = json.dumps(doc).encode()
        s.client.put_manifest(
            registry.host, ref.path, signature_tag(digest), stripped, doc["mediaType"]
        )
        before = digest_bytes(stripped)
    code, out, err = _verify(registry, keys)
    assert code == 8 and out["reason"] == "malformed", err
    assert "no dev.cosignproject.cosign/signature annotation" in err

    # signing does not write over what it cannot read ...
    r = run_cli(
        registry.cli("sign", registry.ref("hello:1"), "--key", str(keys.private)), env=registry.env
    )
    assert r.returncode == 5 and "nothing was written" in r.stderr, r.stderr
    with registry.session() as s:
        assert s.client.get_manifest(registry.host, ref.path, signature_tag(digest))[2] == before
        assert Manifest.parse(stripped).layers[0].media_type == SIMPLE_SIGNING_MEDIA_TYPE
    # ... and a referrer beside the garbage verifies
    ok(
        run_cli(
            registry.cli(
                "sign",
                registry.ref("hello:1"),
                "--key",
                str(keys.private),
                "--registry-referrers-mode",
                "oci-1-1",
            ),
            env=registry.env,
        )
    )
    code, out, err = _verify(registry, keys)
    assert code == 0, err
