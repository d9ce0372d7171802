"""DSSE envelopes and in-toto statements: cosign's committed attestations verify, and what
imageforge writes verifies with an independent implementation (securesystemslib)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509

# protobuf and in-toto-attestation ship no type information
from google.protobuf import json_format  # type: ignore[import-untyped]
from in_toto_attestation.v1 import statement_pb2  # type: ignore[import-untyped]
from in_toto_attestation.v1.statement import (  # type: ignore[import-untyped]
    Statement as ItStatement,
)
from securesystemslib.dsse import Envelope as SslibEnvelope

# securesystemslib re-exports these without __all__ (mypy --strict needs the ignore)
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from imageforge.errors import InvalidArgument
from imageforge.oci import Descriptor, digest_bytes, media
from imageforge.sign import (
    ATTESTATION_ARTIFACT_TYPE,
    DSSE_MEDIA_TYPE,
    IN_TOTO_PAYLOAD_TYPE,
    PREDICATE_TYPE_ANNOTATION,
    PREDICATE_TYPES,
    SIGNATURE_ANNOTATION,
    STATEMENT_V1,
    Envelope,
    KeySigner,
    KeyVerifier,
    PublicKey,
    Statement,
    Subject,
    VerificationFailed,
    attestation_layer,
    generate_key,
    load_public_key,
    pae,
    predicate_type,
    read_signed_layers,
    referrer_manifest,
    sign_envelope,
    signature_manifest,
    verify_envelope,
)

DATA = Path(__file__).parent / "data"
BLOB = digest_bytes(b"some-payload")  # the subject of cosign's blob attestations
ENVELOPES = [
    "slsa-provenance.dsse.json",
    "multiple-subjects.dsse.json",
    "multiple-subjects-invalid.dsse.json",
    "empty-subject.dsse.json",
    "missing-sha256.dsse.json",
]
# sslib's scheme for each of imageforge's algorithms (RSA as cosign signs: PKCS#1 v1.5)
SCHEMES = {
    "ecdsa-p256": "ecdsa-sha2-nistp256",
    "ed25519": "ed25519",
    "rsa-2048": "rsa-pkcs1v15-sha256",
}


def _cosign_verifier() -> KeyVerifier:
    return KeyVerifier(load_public_key((DATA / "blob-attestation.pub").read_bytes()))


def test_pae_is_the_specs_encoding() -> None:
    # The example of the DSSE spec (protocol.md).
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert pae("", b"") == b"DSSEv1 0  0 "


@pytest.mark.parametrize("name", ENVELOPES)
def test_every_cosign_test_envelope_verifies(name: str) -> None:
    envelope = Envelope.parse((DATA / name).read_bytes())
    payload = verify_envelope(_cosign_verifier(), envelope, payload_type=IN_TOTO_PAYLOAD_TYPE)
    assert json.loads(payload)["_type"] == "https://in-toto.io/Statement/v0.1"


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("slsa-provenance.dsse.json", "names"),
        ("multiple-subjects.dsse.json", "names"),
        ("multiple-subjects-invalid.dsse.json", "wrong-digest"),
        ("empty-subject.dsse.json", "no subject"),
        ("missing-sha256.dsse.json", "digest is empty"),
    ],
)
def test_cosign_envelope_subjects_are_checked_as_cosign_checks_them(
    name: str, outcome: str
) -> None:
    envelope = Envelope.parse((DATA / name).read_bytes())
    payload = verify_envelope(_cosign_verifier(), envelope, payload_type=IN_TOTO_PAYLOAD_TYPE)
    if outcome == "names":
        statement = Statement.parse(payload)
        statement.check_subject(BLOB)
        assert statement.predicate_type == PREDICATE_TYPES["slsaprovenance"]
    elif outcome == "wrong-digest":
        with pytest.raises(VerificationFailed) as info:
            Statement.parse(payload).check_subject(BLOB)
        assert info.value.reason == "wrong-digest"
    else:
        with pytest.raises(VerificationFailed, match=outcome):
            Statement.parse(payload)


def test_keyless_bundle_attestation_verifies_with_its_certificate_key() -> None:
    bundle = json.loads((DATA / "oci-attestation.sigstore.json").read_text())
    cert = x509.load_der_x509_certificate(
        base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    )
    public = cert.public_key()
    assert not isinstance(public, bytes)
    verifier = KeyVerifier(PublicKey(public))  # type: ignore[arg-type]
    envelope = Envelope.parse(json.dumps(bundle["dsseEnvelope"]).encode())
    statement = Statement.parse(
        verify_envelope(verifier, envelope, payload_type=IN_TOTO_PAYLOAD_TYPE)
    )
    statement.check_subject(
        "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
    )


def test_one_byte_changed_in_cosigns_envelope_fails_with_the_reason() -> None:
    data = json.loads((DATA / "slsa-provenance.dsse.json").read_bytes())
    payload = bytearray(base64.b64decode(data["payload"]))
    payload[-5] ^= 0x01
    data["payload"] = base64.b64encode(bytes(payload)).decode()
    envelope = Envelope.parse(json.dumps(data).encode())
    with pytest.raises(VerificationFailed, match="does not verify") as info:
        verify_envelope(_cosign_verifier(), envelope, payload_type=IN_TOTO_PAYLOAD_TYPE)
    assert info.value.reason == "bad-signature"


def test_wrong_payload_type_is_refused_before_any_signature_check() -> None:
    envelope = Envelope.parse((DATA / "slsa-provenance.dsse.json").read_bytes())
    with pytest.raises(VerificationFailed, match="payloadType is 'application/vnd.in-toto") as info:
        verify_envelope(_cosign_verifier(), envelope, payload_type="application/json")
    assert info.value.reason == "wrong-payload-type"


def test_changing_the_payload_type_breaks_the_signature() -> None:
    data = json.loads((DATA / "slsa-provenance.dsse.json").read_bytes())
    data["payloadType"] = "application/json"
    envelope = Envelope.parse(json.dumps(data).encode())
    with pytest.raises(VerificationFailed) as info:
        verify_envelope(_cosign_verifier(), envelope, payload_type="application/json")
    assert info.value.reason == "bad-signature"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "not JSON"),
        (b'{"payload":"e30="}', "payloadType missing"),
        (b'{"payloadType":"t","payload":"e30=","signatures":[]}', "no signatures"),
        (b'{"payloadType":"t","payload":"!!","signatures":[{"sig":"AA=="}]}', "payload is not"),
        (b'{"payloadType":"t","payload":"e30=","signatures":[{"keyid":""}]}', r"signatures\[0\]"),
    ],
)
def test_garbage_envelope_is_refused_naming_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(VerificationFailed, match=message) as info:
        Envelope.parse(raw)
    assert info.value.reason == "malformed"


def _statement() -> Statement:
    return Statement(
        (Subject.for_image("localhost:5000/app", BLOB),),
        predicate_type("slsaprovenance1"),
        {"buildDefinition": {"buildType": "https://example.com/t"}, "runDetails": {}},
    )


@pytest.mark.parametrize("algorithm", sorted(SCHEMES))
def test_envelopes_imageforge_writes_verify_with_securesystemslib(algorithm: str) -> None:
    key = generate_key(algorithm)
    sslib_key = SSlibKey.from_crypto(key.public_key().key, scheme=SCHEMES[algorithm])
    statement = _statement()
    envelope = sign_envelope(
        KeySigner(key), IN_TOTO_PAYLOAD_TYPE, statement.to_bytes(), keyid=sslib_key.keyid
    )
    theirs = SslibEnvelope.from_dict(json.loads(envelope.to_bytes()))
    assert theirs.pae() == pae(IN_TOTO_PAYLOAD_TYPE, statement.to_bytes())
    assert set(theirs.verify([sslib_key], 1)) == {sslib_key.keyid}
    back = Statement.parse(theirs.payload)
    assert back == statement and back.type == STATEMENT_V1


@pytest.mark.parametrize("algorithm", sorted(SCHEMES))
def test_envelopes_securesystemslib_writes_verify_with_imageforge(algorithm: str) -> None:
    key = generate_key(algorithm)
    theirs = SslibEnvelope(_statement().to_bytes(), IN_TOTO_PAYLOAD_TYPE, {})
    theirs.sign(
        CryptoSigner(key.key, SSlibKey.from_crypto(key.public_key().key, scheme=SCHEMES[algorithm]))
    )
    ours = Envelope.parse(json.dumps(theirs.to_dict()).encode())
    payload = verify_envelope(
        KeyVerifier(key.public_key()), ours, payload_type=IN_TOTO_PAYLOAD_TYPE
    )
    Statement.parse(payload).check_subject(BLOB)
    # and the signature by another key does not count
    with pytest.raises(VerificationFailed):
        verify_envelope(
            KeyVerifier(generate_key(algorithm).public_key()),
            ours,
            payload_type=IN_TOTO_PAYLOAD_TYPE,
        )


def test_statement_layout_is_in_toto_v1() -> None:
    data = json.loads(_statement().to_bytes())
    assert list(data) == ["_type", "subject", "predicateType", "predicate"]
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert data["subject"] == [{"name": "localhost:5000/app", "digest": {"sha256": BLOB.hex}}]
    assert data["predicateType"] == "https://slsa.dev/provenance/v1"


def test_predicate_type_names() -> None:
    assert predicate_type("spdx") == "https://spdx.dev/Document"
    assert predicate_type("cyclonedx") == "https://cyclonedx.org/bom"
    assert predicate_type("vuln") == "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert predicate_type("https://example.com/p/v1") == "https://example.com/p/v1"
    with pytest.raises(InvalidArgument, match="unknown predicate type 'nope'"):
        predicate_type("nope")


def test_statements_imageforge_writes_validate_with_in_toto_attestation() -> None:
    statement = _statement()
    proto = json_format.Parse(statement.to_bytes(), statement_pb2.Statement())
    ItStatement.copy_from_pb(proto).validate()  # raises ValueError on an invalid statement
    assert proto.type == STATEMENT_V1
    assert proto.predicate_type == "https://slsa.dev/provenance/v1"
    assert dict(proto.subject[0].digest) == {"sha256": BLOB.hex}
    # and their validator is not a rubber stamp: a subject without digest fails it
    empty = json.loads(statement.to_bytes())
    empty["subject"][0]["digest"] = {}
    proto = json_format.Parse(json.dumps(empty), statement_pb2.Statement())
    with pytest.raises(ValueError, match="digest required"):
        ItStatement.copy_from_pb(proto).validate()
    with pytest.raises(VerificationFailed, match="digest is empty"):
        Statement.parse(json.dumps(empty).encode())


def test_attestation_manifest_is_cosigns_att_layout_and_verifies_back() -> None:
    key = generate_key()
    statement = _statement()
    envelope = sign_envelope(KeySigner(key), IN_TOTO_PAYLOAD_TYPE, statement.to_bytes())
    layer = attestation_layer(envelope, statement.predicate_type)
    subject = Descriptor(media.OCI_MANIFEST, BLOB, 321)
    for obj in (
        signature_manifest([layer]),
        referrer_manifest([layer], subject, artifact_type=ATTESTATION_ARTIFACT_TYPE),
    ):
        [entry] = json.loads(obj.manifest_bytes)["layers"]
        assert entry["mediaType"] == DSSE_MEDIA_TYPE
        assert entry["annotations"] == {
            SIGNATURE_ANNOTATION: "",
            PREDICATE_TYPE_ANNOTATION: "https://slsa.dev/provenance/v1",
        }
        [back] = read_signed_layers(obj.manifest_bytes, obj.blobs.__getitem__)
        payload = verify_envelope(
            KeyVerifier(key.public_key()),
            Envelope.parse(back.payload),
            payload_type=IN_TOTO_PAYLOAD_TYPE,
        )
        Statement.parse(payload).check_subject(BLOB)
    assert json.loads(obj.manifest_bytes)["artifactType"] == ATTESTATION_ARTIFACT_TYPE


@pytest.mark.parametrize("depth", [100, 200_000])
def test_hostile_nesting_is_malformed_not_a_crash(depth: int) -> None:
    from imageforge.sign import VerificationFailed
    from imageforge.sign._dsse import Envelope
    from imageforge.sign._intoto import Statement
    from imageforge.sign._payload import parse_simple_signing

    raw = b"[" * depth + b"]" * depth
    for parse in (Envelope.parse, Statement.parse, parse_simple_signing):
        with pytest.raises(VerificationFailed) as err:
            parse(raw)
        assert err.value.reason == "malformed"
