"""The OCI objects cosign stores signatures and attestations in, built in memory.

Two layouts, as ``cosign --registry-referrers-mode legacy|oci-1-1`` writes them:

- legacy: an image manifest tagged ``sha256-<hex>.sig`` (``.att`` for attestations) in
  the image's repository; each layer is one signed payload, its signature in the layer's
  ``dev.cosignproject.cosign/signature`` annotation;
- OCI 1.1: the same manifest with ``artifactType`` (and the config's media type)
  ``application/vnd.dev.cosign.artifact.sig.v1+json`` and a ``subject`` pointing at the
  image, found through the referrers API.

Pure functions: manifests and blobs in, manifests and blobs out; no registry I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from imageforge.errors import InvalidArgument
from imageforge.oci import Descriptor, Digest, Manifest, canonical_json, digest_bytes, media
from imageforge.sign._dsse import Envelope
from imageforge.sign._errors import VerificationFailed
from imageforge.sign._signer import Signature, decode_signature

__all__ = [
    "ATTESTATION_ARTIFACT_TYPE",
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "DSSE_MEDIA_TYPE",
    "SIGNATURE_ANNOTATION",
    "SIGNATURE_ARTIFACT_TYPE",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "SignatureObject",
    "SignedLayer",
    "PREDICATE_TYPE_ANNOTATION",
    "attestation_layer",
    "attestation_tag",
    "read_signed_layers",
    "referrer_manifest",
    "signature_manifest",
    "signature_tag",
]

SIMPLE_SIGNING_MEDIA_TYPE: Final = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_MEDIA_TYPE: Final = "application/vnd.dsse.envelope.v1+json"
SIGNATURE_ANNOTATION: Final = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION: Final = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION: Final = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION: Final = "dev.sigstore.cosign/bundle"
PREDICATE_TYPE_ANNOTATION: Final = "predicateType"
SIGNATURE_ARTIFACT_TYPE: Final = "application/vnd.dev.cosign.artifact.sig.v1+json"
ATTESTATION_ARTIFACT_TYPE: Final = "application/vnd.dev.cosign.artifact.att.v1+json"
# go-containerregistry's zero time, which cosign's signature images carry as "created".
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"


def _suffixed_tag(digest: Digest | str, suffix: str) -> str:
    d = Digest(digest)
    return f"{d.algorithm}-{d.hex}.{suffix}"


def signature_tag(digest: Digest | str) -> str:
    """The tag cosign keeps an image's signatures under: ``sha256-<hex>.sig``."""
    return _suffixed_tag(digest, "sig")


def attestation_tag(digest: Digest | str) -> str:
    """The tag cosign keeps an image's attestations under: ``sha256-<hex>.att``."""
    return _suffixed_tag(digest, "att")


@dataclass(frozen=True)
class SignedLayer:
    """One signed payload of a signature manifest: the payload bytes, their media type
    (simple signing, or a DSSE envelope for an attestation), the signature (empty for a
    DSSE layer, whose signatures are inside the envelope) and further annotations
    (certificate, chain, bundle, an attestation's predicateType)."""

    payload: bytes
    signature: str = ""
    media_type: str = SIMPLE_SIGNING_MEDIA_TYPE
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> Digest:
        return digest_bytes(self.payload)

    def descriptor(self) -> Descriptor:
        annotations = dict(self.annotations)
        annotations[SIGNATURE_ANNOTATION] = self.signature
        return Descriptor(self.media_type, self.digest, len(self.payload), annotations)

    def parsed_signature(self, *, what: str = "signature") -> Signature:
        certificate = self.annotations.get(CERTIFICATE_ANNOTATION)
        return Signature(
            decode_signature(self.signature, what=what),
            certificate.encode() if certificate else None,
        )


def attestation_layer(envelope: Envelope, predicate_type: str) -> SignedLayer:
    """The layer cosign stores an attestation as: the DSSE envelope itself (its
    signatures are inside it, so the signature annotation is empty) with the statement's
    predicate type in a ``predicateType`` annotation."""
    return SignedLayer(
        envelope.to_bytes(), "", DSSE_MEDIA_TYPE, {PREDICATE_TYPE_ANNOTATION: predicate_type}
    )


@dataclass(frozen=True)
class SignatureObject:
    """A signature (or attestation) manifest ready to store: the manifest, its bytes and
    digest, and every blob it refers to (config and payloads) by digest."""

    manifest: Manifest
    manifest_bytes: bytes
    blobs: Mapping[Digest, bytes]

    @property
    def digest(self) -> Digest:
        return digest_bytes(self.manifest_bytes)

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(
            self.manifest.media_type,
            self.digest,
            len(self.manifest_bytes),
            artifact_type=self.manifest.artifact_type,
        )


def _config_blob(layers: Sequence[SignedLayer]) -> bytes:
    # The image config go-containerregistry gives cosign's signature image: empty
    # platform, the payloads as (uncompressed) layers.
    return canonical_json(
        {
            "architecture": "",
            "config": {},
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in layers],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [str(layer.digest) for layer in layers]},
        }
    )


def _build(
    layers: Sequence[SignedLayer],
    *,
    config_media_type: str,
    artifact_type: str | None,
    subject: Descriptor | None,
) -> SignatureObject:
    if not layers:
        raise InvalidArgument("a signature manifest needs at least one signed payload")
    config = _config_blob(layers)
    blobs: dict[Digest, bytes] = {digest_bytes(config): config}
    for layer in layers:
        blobs[layer.digest] = layer.payload
    manifest = Manifest(
        config=Descriptor(config_media_type, digest_bytes(config), len(config)),
        layers=tuple(layer.descriptor() for layer in layers),
        media_type=media.OCI_MANIFEST,
        subject=subject,
        artifact_type=artifact_type,
    )
    raw = manifest.to_bytes()
    return SignatureObject(manifest, raw, blobs)


def signature_manifest(layers: Sequence[SignedLayer]) -> SignatureObject:
    """The legacy layout: the manifest to tag :func:`signature_tag` (or
    :func:`attestation_tag`) in the image's repository."""
    return _build(layers, config_media_type=media.OCI_CONFIG, artifact_type=None, subject=None)


def referrer_manifest(
    layers: Sequence[SignedLayer],
    subject: Descriptor,
    *,
    artifact_type: str = SIGNATURE_ARTIFACT_TYPE,
) -> SignatureObject:
    """The OCI 1.1 layout: the same manifest with ``artifactType`` (also its config's
    media type, as cosign writes it) and ``subject``, the signed image's descriptor."""
    bare = Descriptor(subject.media_type, subject.digest, subject.size)
    return _build(
        layers, config_media_type=artifact_type, artifact_type=artifact_type, subject=bare
    )


def read_signed_layers(
    manifest_bytes: bytes,
    blob: Callable[[Digest], bytes],
    *,
    what: str = "signature manifest",
    max_payload: int = 4 << 20,
) -> list[SignedLayer]:
    """The signed payloads of a stored signature manifest (either layout). ``blob`` gives
    a blob's bytes by digest; every payload is checked against its descriptor's digest
    and size. A manifest that is not a signature manifest, or a layer without its
    annotation, is a :class:`VerificationFailed` (``malformed``) naming the layer."""
    try:
        manifest = Manifest.parse(manifest_bytes, what=what)
    except InvalidArgument as exc:
        raise VerificationFailed(exc.message, reason="malformed", hint=exc.hint) from None
    out: list[SignedLayer] = []
    for i, layer in enumerate(manifest.layers):
        where = f"{what}.layers[{i}]"
        if layer.media_type not in (SIMPLE_SIGNING_MEDIA_TYPE, DSSE_MEDIA_TYPE):
            continue  # cosign skips what it does not know too
        if layer.size > max_payload:
            raise VerificationFailed(
                f"{where}: a payload of {layer.size} bytes is above the limit of {max_payload}",
                reason="malformed",
            )
        annotations = dict(layer.annotations)
        signature = annotations.pop(SIGNATURE_ANNOTATION, None)
        if signature is None:
            raise VerificationFailed(
                f"{where}: no {SIGNATURE_ANNOTATION} annotation", reason="malformed"
            )
        payload = blob(layer.digest)
        if (
            len(payload) != layer.size
            or digest_bytes(payload, layer.digest.algorithm) != layer.digest
        ):
            raise VerificationFailed(
                f"{where}: the payload blob does not match its descriptor ({layer.digest})",
                reason="malformed",
                hint="the stored payload was changed or damaged",
            )
        out.append(SignedLayer(payload, signature, layer.media_type, annotations))
    if not out:
        raise VerificationFailed(f"{what} holds no signed payload", reason="no-signature")
    return out
