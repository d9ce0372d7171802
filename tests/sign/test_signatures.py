"""Simple signing payloads, their signatures, and the OCI objects cosign stores them in."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from imageforge.oci import Descriptor, Digest, Manifest, digest_bytes, media
from imageforge.sign import (
    SIGNATURE_ANNOTATION,
    SIGNATURE_ARTIFACT_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    KeySigner,
    KeyVerifier,
    Signature,
    SignedLayer,
    VerificationFailed,
    attestation_tag,
    decode_signature,
    generate_key,
    load_private_key,
    load_public_key,
    parse_simple_signing,
    read_signed_layers,
    referrer_manifest,
    signature_manifest,
    signature_tag,
    simple_signing_payload,
)

DATA = Path(__file__).parent / "data"
IMAGE = Digest("sha256:4aa3054270f7a70b4528f2064ee90961788e1e1518703592ae4463de3b889dec")
OTHER = Digest("sha256:" + "ab" * 32)


def test_payload_is_byte_for_byte_cosigns() -> None:
    # cosign's pkg/cosign/obsolete_test.go: "the property of generating _exactly_ the
    # same string as previous versions is essential".
    expected = (
        b'{"critical":{"identity":{"docker-reference":"index.docker.io/namespace/image"},'
        b'"image":{"docker-manifest-digest":"sha256:4aa3054270f7a70b4528f2064ee90961788e1e1518'
        b'703592ae4463de3b889dec"},"type":"cosign container image signature"},"optional":null}'
    )
    assert simple_signing_payload("docker.io/namespace/image", IMAGE) == expected
    assert simple_signing_payload("namespace/image:latest", IMAGE) == expected


def test_payload_annotations_are_sorted_and_escaped_as_go_writes_them() -> None:
    payload = simple_signing_payload(
        "localhost:5000/app", IMAGE, {"z": "1", "a": "<b>&c", "é": "ü"}
    )
    assert payload.endswith(
        b'"optional":{"a":"\\u003cb\\u003e\\u0026c","z":"1","\xc3\xa9":"\xc3\xbc"}}'
    )
    claim = parse_simple_signing(payload)
    assert claim.docker_reference == "localhost:5000/app"
    assert claim.digest == IMAGE
    assert claim.optional == {"a": "<b>&c", "z": "1", "é": "ü"}
    claim.check_digest(IMAGE)
    claim.check_annotations({"a": "<b>&c"})


def test_payload_for_another_digest_is_refused_with_the_reason() -> None:
    claim = parse_simple_signing(simple_signing_payload("registry.local/app", OTHER))
    with pytest.raises(VerificationFailed, match="names image sha256:abab") as info:
        claim.check_digest(IMAGE)
    assert info.value.reason == "wrong-digest"


def test_missing_or_different_annotation_is_refused() -> None:
    claim = parse_simple_signing(simple_signing_payload("r/app", IMAGE, {"env": "prod"}))
    with pytest.raises(VerificationFailed, match="env='prod', not 'dev'") as info:
        claim.check_annotations({"env": "dev"})
    assert info.value.reason == "annotation-mismatch"
    with pytest.raises(VerificationFailed, match="no annotation 'team'"):
        claim.check_annotations({"team": "x"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"garbage", "not JSON"),
        (b"[]", "no 'critical'"),
        (b'{"critical":{"type":"x"}}', "critical.type is 'x'"),
        (
            b'{"critical":{"type":"cosign container image signature","identity":'
            b'{"docker-reference":"a/b"},"image":{"docker-manifest-digest":"sha256:12"}}}',
            "docker-manifest-digest: invalid digest",
        ),
    ],
)
def test_garbage_payload_is_refused_naming_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(VerificationFailed, match=message) as info:
        parse_simple_signing(raw)
    assert info.value.reason == "malformed"


@pytest.mark.parametrize("name", ["sigstore.key", "rsa-pkcs8.key", "ed25519-pkcs8.key"])
def test_signature_over_payload_verifies_and_one_byte_breaks_it(name: str) -> None:
    key = load_private_key((DATA / name).read_bytes(), b"hello")
    payload = simple_signing_payload("localhost:5000/app", IMAGE)
    signature = KeySigner(key).sign(payload)
    b64 = signature.b64
    verifier = KeyVerifier(key.public_key())
    verifier.verify(payload, Signature(decode_signature(b64)))

    changed_payload = payload.replace(b"localhost:5000", b"localhost:5001")
    with pytest.raises(VerificationFailed, match="does not verify") as info:
        verifier.verify(changed_payload, signature)
    assert info.value.reason == "bad-signature"

    raw = bytearray(signature.signature)
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(VerificationFailed) as info:
        verifier.verify(payload, Signature(bytes(raw)))
    assert info.value.reason == "bad-signature"


def test_signature_by_another_key_is_refused() -> None:
    payload = simple_signing_payload("r/app", IMAGE)
    signature = KeySigner(generate_key()).sign(payload)
    with pytest.raises(VerificationFailed, match="signed by another key|does not verify"):
        KeyVerifier(generate_key().public_key()).verify(payload, signature)


def test_garbage_base64_signature_is_malformed() -> None:
    with pytest.raises(VerificationFailed, match="not valid base64") as info:
        decode_signature("not base64!!")
    assert info.value.reason == "malformed"


def test_tags_cosign_uses() -> None:
    assert signature_tag(IMAGE) == f"sha256-{IMAGE.hex}.sig"
    assert attestation_tag(IMAGE) == f"sha256-{IMAGE.hex}.att"


def _layer() -> tuple[SignedLayer, KeyVerifier]:
    key = generate_key()
    payload = simple_signing_payload("localhost:5000/app", IMAGE)
    return SignedLayer(payload, KeySigner(key).sign(payload).b64), KeyVerifier(key.public_key())


def test_legacy_signature_manifest_is_cosigns_layout() -> None:
    layer, verifier = _layer()
    obj = signature_manifest([layer])
    data = json.loads(obj.manifest_bytes)
    assert data["mediaType"] == media.OCI_MANIFEST
    assert data["config"]["mediaType"] == media.OCI_CONFIG
    [entry] = data["layers"]
    assert entry["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
    assert entry["annotations"] == {SIGNATURE_ANNOTATION: layer.signature}
    assert entry["digest"] == str(digest_bytes(layer.payload))
    assert "subject" not in data and "artifactType" not in data
    # Every blob the manifest names is there, under its digest.
    assert set(obj.blobs) == {Digest(data["config"]["digest"]), Digest(entry["digest"])}
    assert all(digest_bytes(b) == d for d, b in obj.blobs.items())
    assert obj.digest == digest_bytes(obj.manifest_bytes)
    Manifest.parse(obj.manifest_bytes)  # a valid OCI manifest (schema-checked)
    [back] = read_signed_layers(obj.manifest_bytes, obj.blobs.__getitem__)
    verifier.verify(back.payload, back.parsed_signature())
    parse_simple_signing(back.payload).check_digest(IMAGE)


def test_referrer_manifest_is_cosigns_oci_1_1_layout() -> None:
    layer, verifier = _layer()
    subject = Descriptor(media.OCI_MANIFEST, IMAGE, 1234, {"ignored": "x"})
    obj = referrer_manifest([layer], subject)
    data = json.loads(obj.manifest_bytes)
    assert data["artifactType"] == SIGNATURE_ARTIFACT_TYPE
    assert data["config"]["mediaType"] == SIGNATURE_ARTIFACT_TYPE
    assert data["subject"] == {"mediaType": media.OCI_MANIFEST, "digest": IMAGE, "size": 1234}
    assert obj.descriptor.artifact_type == SIGNATURE_ARTIFACT_TYPE
    Manifest.parse(obj.manifest_bytes)
    [back] = read_signed_layers(obj.manifest_bytes, obj.blobs.__getitem__)
    verifier.verify(back.payload, back.parsed_signature())


def test_a_payload_blob_changed_in_storage_is_refused() -> None:
    layer, _ = _layer()
    obj = signature_manifest([layer])
    blobs = dict(obj.blobs)
    blobs[layer.digest] = layer.payload.replace(b"5000", b"5001")
    with pytest.raises(VerificationFailed, match="does not match its descriptor") as info:
        read_signed_layers(obj.manifest_bytes, blobs.__getitem__)
    assert info.value.reason == "malformed"


@pytest.mark.parametrize(
    ("manifest", "message", "reason"),
    [
        (b"\x00garbage", "not valid JSON", "malformed"),
        (b'{"schemaVersion":2}', "manifest", "malformed"),
    ],
)
def test_garbage_signature_manifest_is_refused(manifest: bytes, message: str, reason: str) -> None:
    with pytest.raises(VerificationFailed, match=message) as info:
        read_signed_layers(manifest, lambda d: b"")
    assert info.value.reason == reason


def test_signature_layer_without_its_annotation_is_refused() -> None:
    layer, _ = _layer()
    obj = signature_manifest([layer])
    data = json.loads(obj.manifest_bytes)
    del data["layers"][0]["annotations"]
    raw = json.dumps(data).encode()
    with pytest.raises(VerificationFailed, match=r"layers\[0\]: no dev.cosignproject"):
        read_signed_layers(raw, obj.blobs.__getitem__)


def test_manifest_without_signed_layers_is_no_signature() -> None:
    config = b"{}"
    manifest = Manifest(
        config=Descriptor(media.OCI_CONFIG, digest_bytes(config), 2),
        layers=(Descriptor(media.OCI_LAYER_GZIP, digest_bytes(b"x"), 1),),
    )
    with pytest.raises(VerificationFailed) as info:
        read_signed_layers(manifest.to_bytes(), lambda d: b"x")
    assert info.value.reason == "no-signature"


def test_public_key_file_of_cosigns_fixtures_loads() -> None:
    pub = load_public_key((DATA / "blob-attestation.pub").read_bytes())
    assert pub.algorithm == "ecdsa-p256"
    assert base64.b64decode(pub.to_pem().splitlines()[1])  # PKIX PEM body
