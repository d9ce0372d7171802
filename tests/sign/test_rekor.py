"""Rekor entries checked offline: the signed entry timestamp of a real Rekor entry (in
cosign's committed bundle) verifies with Rekor's public key (from sigstore's trusted
root), a changed byte or another log's key does not; ``verify --rekor-pubkey`` requires
a bundle that binds the signature and payload it sits beside."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from imageforge.pipeline import sign_image
from imageforge.sign import (
    BUNDLE_ANNOTATION,
    KeySigner,
    LogEntry,
    PublicKey,
    SignedLayer,
    VerificationFailed,
    generate_key,
    load_public_key,
    log_id,
)
from tests.conftest import run_cli
from tests.sign.conftest import KeyPair, Registry, password_signer, put_signatures, signature_layers

DATA = Path(__file__).parent / "data"
BUNDLE = json.loads((DATA / "oci-attestation.sigstore.json").read_text())


def _rekor() -> PublicKey:
    return load_public_key((DATA / "rekor.pub").read_bytes())


def _entry(**changes: Any) -> dict[str, Any]:
    entry = dict(BUNDLE["verificationMaterial"]["tlogEntries"][0])
    entry.update(changes)
    return entry


def _envelope() -> tuple[bytes, bytes]:
    env = BUNDLE["dsseEnvelope"]
    return base64.b64decode(env["signatures"][0]["sig"]), base64.b64decode(env["payload"])


def test_a_real_rekor_entry_verifies_offline_and_binds_its_envelope() -> None:
    entry = LogEntry.from_bundle_entry(_entry())
    assert entry.log_id == log_id(_rekor())
    entry.verify(_rekor())
    entry.check_binds(*_envelope())


@pytest.mark.parametrize(
    "changes",
    [
        {"integratedTime": "1740770292"},
        {"logIndex": "175508997"},
        {"canonicalizedBody": _entry()["canonicalizedBody"].replace("eyJh", "eyJi", 1)},
    ],
)
def test_one_changed_field_breaks_the_signed_entry_timestamp(changes: dict[str, str]) -> None:
    with pytest.raises(VerificationFailed) as failed:
        LogEntry.from_bundle_entry(_entry(**changes)).verify(_rekor())
    assert failed.value.reason == "bad-log-entry"
    assert "signed entry timestamp does not verify" in failed.value.message


def test_another_logs_key_is_refused_by_log_id() -> None:
    with pytest.raises(VerificationFailed, match="logged by log c0d23d6ad406973f"):
        LogEntry.from_bundle_entry(_entry()).verify(generate_key().public_key())


def test_an_entry_of_another_payload_or_signature_does_not_bind() -> None:
    entry = LogEntry.from_bundle_entry(_entry())
    signature, payload = _envelope()
    with pytest.raises(VerificationFailed, match="of another payload"):
        entry.check_binds(signature, payload + b" ")
    with pytest.raises(VerificationFailed, match="of another signature"):
        entry.check_binds(signature[:-1] + bytes([signature[-1] ^ 1]), payload)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "Payload missing"),
        ('{"Payload": {"body": "e30=", "integratedTime": 1, "logIndex": 1}}', "logID missing"),
        (
            '{"Payload": {"body": "e30=", "integratedTime": 1, "logIndex": 1, "logID": "ab"},'
            ' "SignedEntryTimestamp": "%%%"}',
            "SignedEntryTimestamp is not valid base64",
        ),
    ],
)
def test_a_damaged_cosign_bundle_is_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(VerificationFailed) as failed:
        LogEntry.from_cosign_bundle(text)
    assert failed.value.reason == "bad-log-entry" and message in failed.value.message


def _logged(layer: SignedLayer, signer_pub: PublicKey, log: KeySigner) -> SignedLayer:
    """``layer`` with the bundle a log (``log``) would give it: a hashedrekord entry of
    its signature over its payload, and the log's SET over the entry."""
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {
                "hash": {"algorithm": "sha256", "value": hashlib.sha256(layer.payload).hexdigest()}
            },
            "signature": {
                "content": layer.signature,
                "publicKey": {"content": base64.b64encode(signer_pub.to_pem()).decode()},
            },
        },
    }
    logged = base64.b64encode(json.dumps(body).encode()).decode()
    entry = LogEntry(logged, 1765000000, 42, log_id(log.public_key), b"")
    payload = {
        "body": logged,
        "integratedTime": entry.integrated_time,
        "logIndex": entry.log_index,
        "logID": entry.log_id,
    }
    set_ = log.sign(entry.signed_bytes()).signature
    bundle = {"SignedEntryTimestamp": base64.b64encode(set_).decode(), "Payload": payload}
    return SignedLayer(
        layer.payload, layer.signature, layer.media_type, {BUNDLE_ANNOTATION: json.dumps(bundle)}
    )


@pytest.mark.slow
def test_verify_with_rekor_pubkey_needs_a_bundle_the_log_signed(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    digest = registry.push("hello:1", "hello:1")
    log = KeySigner(generate_key())
    log_pub = tmp_path / "log.pub"
    log_pub.write_bytes(log.public_key.to_pem())

    def verify(log_key: Path) -> tuple[int, str, str]:
        r = run_cli(
            registry.cli(
                "verify",
                registry.ref("hello:1"),
                "--key",
                str(keys.public),
                "--rekor-pubkey",
                str(log_key),
                "--format",
                "json",
            )
        )
        return r.returncode, json.loads(r.stdout).get("reason", ""), r.stderr

    with registry.session() as s:
        sign_image(s, registry.ref("hello:1"), password_signer(keys))
        [plain] = signature_layers(s, registry, digest)
    code, reason, err = verify(log_pub)
    assert code == 8 and reason == "bad-log-entry" and "has no Rekor bundle" in err, err

    with registry.session() as s:
        signer_pub = load_public_key(keys.public.read_bytes())
        put_signatures(s, registry, digest, [_logged(plain, signer_pub, log)])
    code, _, err = verify(log_pub)
    assert code == 0, err
    code, reason, err = verify(DATA / "rekor.pub")  # a bundle of another log
    assert code == 8 and reason == "bad-log-entry" and "logged by log" in err, err

    # a bundle copied from another signature does not bind this one
    other = SignedLayer(plain.payload.replace(b"hello", b"hellp"), plain.signature)
    logged_other = _logged(other, signer_pub, log)
    moved = SignedLayer(plain.payload, plain.signature, plain.media_type, logged_other.annotations)
    with registry.session() as s:
        put_signatures(s, registry, digest, [moved])
    code, reason, err = verify(log_pub)
    assert code == 8 and reason == "bad-log-entry" and "of another payload" in err, err
