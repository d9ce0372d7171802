"""``sign`` and ``verify``: cosign's key-based image signatures in a registry.

The image is named once and resolved once to its manifest digest; the simple-signing
payload names that digest, so a signature never follows a tag that moves. ``verify``
reads every signature attached in either layout (``_sign_store``) and passes when one
of them holds: signed by the key, over a payload naming the image's digest, with the
annotations asked for. When none holds it fails with the reason of the signature that
came closest (the furthest check it reached), so "signed by another key" is not
hidden behind an unreadable neighbour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, Reference
from imageforge.pipeline._location import Location, location_text, remote_ref
from imageforge.pipeline._session import Session
from imageforge.pipeline._sign_repos import RegistryRepository, StoreRepository, repository_for
from imageforge.pipeline._sign_store import (
    LEGACY,
    MODES,
    SIGNATURES,
    Attached,
    Found,
    Stored,
    Target,
    attach,
    find_attached,
    resolve_target,
)
from imageforge.sign import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    KeySigner,
    KeyVerifier,
    LogEntry,
    PasswordSource,
    PublicKey,
    SignedLayer,
    Signer,
    VerificationFailed,
    Verifier,
    load_private_key,
    load_public_key,
    parse_simple_signing,
    simple_signing_payload,
)

__all__ = [
    "Signed",
    "VerifiedImage",
    "VerifiedSignature",
    "key_signer",
    "key_verifier",
    "public_key",
    "sign_image",
    "verify_image",
]

# How far a failed signature got through the checks, furthest last: the reason a
# verification reports is the furthest any signature reached.
_PROGRESS: Final = (
    "no-signature",
    "malformed",
    "wrong-payload-type",
    "bad-signature",
    "bad-log-entry",
    "wrong-digest",
    "annotation-mismatch",
    "policy-violation",
)


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{path}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise InvalidArgument(f"{path}: cannot read the {what}: {exc.strerror}") from None


def key_signer(path: Path, password: PasswordSource) -> KeySigner:
    """The signer of the private key file ``path`` (cosign's, PKCS#8, PKCS#1 or SEC1),
    opened with ``password`` when it is encrypted."""
    data = _read_key_file(path, "private key")
    return KeySigner(load_private_key(data, password, what=str(path)))


def public_key(path: Path) -> PublicKey:
    """The public key in the file ``path`` (cosign.pub, a log's key, a certificate)."""
    return load_public_key(_read_key_file(path, "public key"), what=str(path))


def key_verifier(path: Path) -> KeyVerifier:
    """The verifier of the public key file ``path`` (cosign.pub, or a certificate)."""
    return KeyVerifier(public_key(path))


def reference_of(reference: Location | str) -> Location:
    """A registry reference (``[docker://]REF``: text is a registry's, as cosign reads
    it) or a store location."""
    return remote_ref(reference) if isinstance(reference, str) else reference


def target_of(session: Session, reference: Location | str) -> Target:
    """The image ``reference`` names, in a registry or in the store, resolved once."""
    location = reference_of(reference)
    repository = repository_for(session, location)
    if not isinstance(repository, RegistryRepository | StoreRepository):
        raise InvalidArgument(
            f"{location_text(location)}: signatures are kept in a registry or the store",
            hint="name a registry image (docker://REF) or a store image by name",
        )
    return resolve_target(repository)


@dataclass(frozen=True)
class Signed:
    """What ``sign`` did: the image (by digest) and where its signature is."""

    image: Reference
    stored: Stored


def sign_image(
    session: Session,
    reference: Location | str,
    signer: Signer,
    *,
    annotations: Mapping[str, str] | None = None,
    mode: str = LEGACY,
) -> Signed:
    """Sign the image ``[docker://]REF`` names as ``cosign sign --key`` does: the
    simple-signing payload for its digest (with ``annotations`` under ``optional``),
    stored in the ``mode`` layout (``legacy``: the ``sha256-<hex>.sig`` tag, appended
    to; ``oci-1-1``: a referrer)."""
    if mode not in MODES:
        raise InvalidArgument(f"unknown referrers mode {mode!r}", hint="use " + " or ".join(MODES))
    target = target_of(session, reference)
    payload = simple_signing_payload(target.reference or target.pinned, target.digest, annotations)
    signature = signer.sign(payload)
    extra = {}
    if signature.certificate is not None:
        extra[CERTIFICATE_ANNOTATION] = signature.certificate.decode()
    layer = SignedLayer(payload, signature.b64, SIMPLE_SIGNING_MEDIA_TYPE, extra)
    stored = attach(target, layer, SIGNATURES, mode)
    return Signed(target.pinned, stored)


@dataclass(frozen=True)
class VerifiedSignature:
    """One signature that held: where it was and what its payload says."""

    layout: str
    manifest: Digest
    docker_reference: str
    annotations: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "signatureManifest": str(self.manifest),
            "dockerReference": self.docker_reference,
            "annotations": dict(self.annotations),
        }


@dataclass(frozen=True)
class VerifiedImage:
    image: Reference
    signatures: tuple[VerifiedSignature, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "image": str(self.image),
            "digest": str(self.image.digest),
            "verified": True,
            "signatures": [s.to_json() for s in self.signatures],
        }


def _check_logged(layer: SignedLayer, signature: bytes, log_key: PublicKey) -> None:
    bundle = layer.annotations.get(BUNDLE_ANNOTATION)
    if bundle is None:
        raise VerificationFailed(
            "the signature has no Rekor bundle (it was not logged, or not with cosign)",
            reason="bad-log-entry",
            hint="imageforge signs without a transparency log; verify without --rekor-pubkey",
        )
    entry = LogEntry.from_cosign_bundle(bundle)
    entry.verify(log_key)
    entry.check_binds(signature, layer.payload)


def _check(
    attached: Attached,
    target: Target,
    verifier: Verifier,
    required: Mapping[str, str],
    log_key: PublicKey | None,
) -> VerifiedSignature:
    layer = attached.layer
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
        raise VerificationFailed(
            f"a {layer.media_type} layer where a signature was expected",
            reason="wrong-payload-type",
        )
    signature = layer.parsed_signature()
    verifier.verify(layer.payload, signature)
    if log_key is not None:
        _check_logged(layer, signature.signature, log_key)
    claim = parse_simple_signing(layer.payload)
    claim.check_digest(target.digest)
    claim.check_annotations(required)
    return VerifiedSignature(
        attached.layout, attached.manifest, claim.docker_reference, claim.optional
    )


def raise_unverified(
    target: Target, found: Found, failures: list[VerificationFailed], what: str
) -> NoReturn:
    """Raise the :class:`VerificationFailed` that sums up why nothing attached to
    ``target`` held: the failure that got furthest, with how many were looked at."""
    everything = failures + found.problems
    if not everything:
        raise VerificationFailed(
            f"{target.pinned}: no {what} found (looked at the {' and '.join(found.looked)})",
            reason="no-signature",
            hint=f"the image was never signed, or its {what}s were not copied with it",
        )
    best = max(everything, key=lambda exc: _PROGRESS.index(exc.reason))
    count = len(found.attached) + len(found.problems)
    others = f" ({count} {what}s found, none holds)" if count > 1 else ""
    raise VerificationFailed(
        f"{target.pinned}: {best.message}{others}", reason=best.reason, hint=best.hint
    )


def verify_image(
    session: Session,
    reference: Location | str,
    verifier: Verifier,
    *,
    annotations: Mapping[str, str] | None = None,
    log_key: PublicKey | None = None,
) -> VerifiedImage:
    """Check the image ``[docker://]REF`` names as ``cosign verify --key`` does; the
    signatures that hold, or :class:`~imageforge.sign.VerificationFailed` with the
    reason none does. With ``log_key`` (``--rekor-pubkey``) a signature holds only with
    a Rekor bundle that log signed, logging this signature over this payload."""
    target = target_of(session, reference)
    found = find_attached(target, SIGNATURES)
    good: list[VerifiedSignature] = []
    failures: list[VerificationFailed] = []
    for attached in found.attached:
        try:
            good.append(_check(attached, target, verifier, annotations or {}, log_key))
        except VerificationFailed as exc:
            failures.append(exc)
    if not good:
        raise_unverified(target, found, failures, "signature")
    return VerifiedImage(target.pinned, tuple(good))
