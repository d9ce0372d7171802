"""Signing and verification of images, cosign-compatible: keys in cosign's formats,
"simple signing" payloads, DSSE envelopes with in-toto statements, and the OCI objects
cosign stores them in (the ``sha256-<hex>.sig`` tag and the OCI 1.1 referrer form).

No registry I/O here: these are pure functions and values; putting objects into a
registry and reading them back is composed with ``remote`` in a layer above.

The seam is :class:`Signer` / :class:`Verifier`: a signer turns bytes into a
:class:`Signature`, a verifier checks one. :class:`KeySigner` and :class:`KeyVerifier`
are the key-based pair (``cosign sign --key``). Keyless signing (a short-lived Fulcio
certificate, a Rekor transparency-log entry) is meant to plug in as another pair —
:attr:`Signature.certificate` carries its certificate — without changing payloads,
envelopes or OCI objects; it is not built, as those services cannot be reached here.

Modules: ``_keys`` (generate, load, write keys), ``_cosign_key`` (cosign's encrypted key
envelope: scrypt + NaCl secretbox), ``_signer`` (the seam and key signing), ``_payload``
(simple signing), ``_objects`` (signature manifests), ``_dsse`` (DSSE v1), ``_intoto``
(Statement v1), ``_rekor`` (a transparency-log entry checked offline), ``_policy`` (what
attestations an image must carry and what they must say), ``_errors``
(:class:`VerificationFailed`).
"""

from imageforge.sign._cosign_key import COSIGN_PEM_TYPE, KDF_PARAMS, SIGSTORE_PEM_TYPE
from imageforge.sign._dsse import Envelope, EnvelopeSignature, pae, sign_envelope, verify_envelope
from imageforge.sign._errors import REASONS, VerificationFailed
from imageforge.sign._intoto import (
    IN_TOTO_PAYLOAD_TYPE,
    PREDICATE_TYPES,
    STATEMENT_V1,
    Statement,
    Subject,
    predicate_type,
)
from imageforge.sign._keys import (
    ALGORITHMS,
    PASSWORD_ENV,
    PasswordSource,
    PrivateKey,
    PublicKey,
    generate_key,
    load_private_key,
    load_public_key,
    password_from_env,
)
from imageforge.sign._objects import (
    ATTESTATION_ARTIFACT_TYPE,
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    DSSE_MEDIA_TYPE,
    PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIGNATURE_ARTIFACT_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureObject,
    SignedLayer,
    attestation_layer,
    attestation_tag,
    read_signed_layers,
    referrer_manifest,
    signature_manifest,
    signature_tag,
)
from imageforge.sign._payload import (
    SIMPLE_SIGNING_TYPE,
    SimpleSigning,
    docker_reference,
    parse_simple_signing,
    simple_signing_payload,
)
from imageforge.sign._policy import AttestationPolicy, Condition, Rule
from imageforge.sign._rekor import LogEntry, log_id
from imageforge.sign._signer import (
    KeySigner,
    KeyVerifier,
    Signature,
    Signer,
    Verifier,
    decode_signature,
    encode_signature,
)

__all__ = [
    "ALGORITHMS",
    "ATTESTATION_ARTIFACT_TYPE",
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "COSIGN_PEM_TYPE",
    "DSSE_MEDIA_TYPE",
    "IN_TOTO_PAYLOAD_TYPE",
    "KDF_PARAMS",
    "PASSWORD_ENV",
    "PREDICATE_TYPES",
    "PREDICATE_TYPE_ANNOTATION",
    "REASONS",
    "SIGNATURE_ANNOTATION",
    "SIGNATURE_ARTIFACT_TYPE",
    "SIGSTORE_PEM_TYPE",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "SIMPLE_SIGNING_TYPE",
    "STATEMENT_V1",
    "AttestationPolicy",
    "Condition",
    "Envelope",
    "EnvelopeSignature",
    "KeySigner",
    "LogEntry",
    "KeyVerifier",
    "PasswordSource",
    "PrivateKey",
    "PublicKey",
    "Rule",
    "Signature",
    "SignatureObject",
    "SignedLayer",
    "Signer",
    "SimpleSigning",
    "Statement",
    "Subject",
    "VerificationFailed",
    "Verifier",
    "attestation_layer",
    "attestation_tag",
    "decode_signature",
    "docker_reference",
    "encode_signature",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "log_id",
    "pae",
    "parse_simple_signing",
    "password_from_env",
    "predicate_type",
    "read_signed_layers",
    "referrer_manifest",
    "sign_envelope",
    "signature_manifest",
    "signature_tag",
    "simple_signing_payload",
    "verify_envelope",
]
