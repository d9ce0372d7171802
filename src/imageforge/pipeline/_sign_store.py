"""Signatures and attestations beside an image, in both of cosign's layouts, in any
:class:`~imageforge.pipeline._sign_repos.Repository` (a registry, the store, a layout).

- legacy: one manifest tagged ``sha256-<hex>.sig`` (``.att``) in the image's repository,
  one layer per signed payload; a new signature is appended to the manifest already
  there, as cosign appends it.
- OCI 1.1 (``--registry-referrers-mode oci-1-1``): one manifest per signature whose
  ``subject`` is the image, found through the referrers API, or where there is none
  through the referrers tag schema of the distribution spec 1.1 (an index tagged
  ``sha256-<hex>`` listing the referrers).

What is read back is untrusted: manifests and payloads are bounded and checked against
their digests (``sign.read_signed_layers``); a manifest that cannot be read is reported
as a problem beside the signatures that could, so one damaged object hides no other.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from imageforge.errors import Conflict, InvalidArgument, NotFound
from imageforge.layers import BlobImage
from imageforge.oci import Digest, digest_bytes
from imageforge.pipeline._sign_modes import LEGACY, MODES, OCI_1_1
from imageforge.pipeline._sign_repos import (
    Repository,
    Target,
    referrers_tag,
    resolve_target,
    tag_schema_index,
)
from imageforge.sign import (
    ATTESTATION_ARTIFACT_TYPE,
    SIGNATURE_ARTIFACT_TYPE,
    SignatureObject,
    SignedLayer,
    VerificationFailed,
    attestation_tag,
    read_signed_layers,
    referrer_manifest,
    signature_manifest,
    signature_tag,
)

__all__ = [
    "ATTESTATIONS",
    "LEGACY",
    "MODES",
    "OCI_1_1",
    "SIGNATURES",
    "Attached",
    "Found",
    "Kind",
    "Stored",
    "Target",
    "attach",
    "copy_object",
    "find_attached",
    "resolve_target",
    "signed_layers",
]

_MAX_PAYLOAD: Final = 4 << 20  # as sign.read_signed_layers bounds a payload
# Referrers of one kind read per image: a registry listing more is hostile or broken,
# and each costs a request.
_MAX_REFERRERS: Final = 256


@dataclass(frozen=True)
class Kind:
    """Signatures or attestations: the legacy tag's suffix and the referrers'
    artifact type."""

    what: str
    tag: Callable[[Digest | str], str]
    artifact_type: str


SIGNATURES: Final = Kind("signature", signature_tag, SIGNATURE_ARTIFACT_TYPE)
ATTESTATIONS: Final = Kind("attestation", attestation_tag, ATTESTATION_ARTIFACT_TYPE)


@dataclass(frozen=True)
class Attached:
    """One signed payload found for an image: the layout it was found in and the
    manifest holding it."""

    layout: str
    manifest: Digest
    layer: SignedLayer


@dataclass
class Found:
    """Everything attached to an image, and the objects that could not be read."""

    attached: list[Attached] = field(default_factory=list)
    problems: list[VerificationFailed] = field(default_factory=list)
    # Where was looked: the legacy tag, and the referrers API or its tag schema.
    looked: list[str] = field(default_factory=list)
    # Every object found, readable or not: its digest, and the legacy tag it is under
    # (None for a referrer). What a copy carries along.
    objects: list[tuple[Digest, str | None]] = field(default_factory=list)


def _blob_reader(repository: Repository) -> Callable[[Digest], bytes]:
    opener = repository.opener()

    def read(digest: Digest) -> bytes:
        with opener(digest) as f:
            return f.read(_MAX_PAYLOAD + 1)

    return read


def signed_layers(repository: Repository, raw: bytes, what: str) -> list[SignedLayer]:
    """The signed payloads of the signature manifest ``raw`` kept in ``repository``,
    each checked against its descriptor (:class:`VerificationFailed` if one is not)."""
    try:
        return read_signed_layers(raw, _blob_reader(repository), what=what)
    except NotFound as exc:  # a payload blob the manifest names is not there
        raise VerificationFailed(f"{what}: {exc.message}", reason="malformed") from None


def _read(repository: Repository, raw: bytes, layout: str, what: str, found: Found) -> None:
    try:
        layers = signed_layers(repository, raw, what)
    except VerificationFailed as exc:
        found.problems.append(exc)
        return
    digest = digest_bytes(raw)
    found.attached.extend(Attached(layout, digest, layer) for layer in layers)


def find_attached(target: Target, kind: Kind) -> Found:
    """Every signed payload of ``kind`` attached to ``target`` in either layout."""
    found = Found()
    repository = target.repository
    tag = kind.tag(target.digest)
    found.looked.append(f"tag {tag}")
    raw = repository.manifest(tag)
    if raw is not None:
        found.objects.append((digest_bytes(raw), tag))
        _read(repository, raw, LEGACY, f"{kind.what} manifest {tag}", found)
    referrers = repository.referrers(target.digest, kind.artifact_type)
    if referrers is None:
        found.looked.append(f"referrers tag {referrers_tag(target.digest)}")
        try:
            index = tag_schema_index(repository, target.digest)
        except InvalidArgument as exc:
            found.problems.append(VerificationFailed(exc.message, reason="malformed"))
            index = None
        referrers = [
            d for d in (index.manifests if index else ()) if d.artifact_type == kind.artifact_type
        ]
    else:
        found.looked.append("the referrers API")
    if len(referrers) > _MAX_REFERRERS:
        found.problems.append(
            VerificationFailed(
                f"{len(referrers)} {kind.what} referrers listed; only the first "
                f"{_MAX_REFERRERS} were read",
                reason="malformed",
            )
        )
        referrers = referrers[:_MAX_REFERRERS]
    for desc in referrers:
        what = f"{kind.what} referrer {desc.digest}"
        raw = repository.manifest(str(desc.digest))
        if raw is None:
            found.problems.append(
                VerificationFailed(f"{what}: listed, but not there", reason="malformed")
            )
            continue
        found.objects.append((desc.digest, None))
        _read(repository, raw, OCI_1_1, what, found)
    return found


@dataclass(frozen=True)
class Stored:
    """Where a signature (or attestation) was written: the layout, the manifest
    holding it, and the tag it is under (the legacy layout, or the referrers tag
    schema on a registry without the referrers API; None when the API lists it)."""

    layout: str
    manifest: Digest
    tag: str | None


def _object_image(obj: SignatureObject) -> BlobImage:
    blobs = obj.blobs

    def opener(digest: Digest) -> io.BytesIO:
        return io.BytesIO(blobs[digest])

    return BlobImage(opener, obj.manifest_bytes, validate=False)


def copy_object(source: Target, destination: Target, digest: Digest, tag: str | None) -> None:
    """Copy the signature (or attestation) manifest ``digest`` attached to ``source``
    to ``destination`` as it is (its bytes, so its digest, unchanged): under ``tag``
    (the legacy layout), or as a referrer, listed where the destination lists them."""
    raw = source.repository.manifest(str(digest))
    if raw is None:
        raise NotFound(f"{source.repository.name}: {digest} is listed but not there")
    image = BlobImage(source.repository.opener(), raw, validate=False)
    if image.digest != digest:
        raise VerificationFailed(
            f"{source.repository.name}: manifest {digest} does not match its digest",
            reason="malformed",
        )
    destination.repository.put(image, tag, source.repository)


def attach(target: Target, layer: SignedLayer, kind: Kind, mode: str) -> Stored:
    """Store ``layer`` for ``target``: appended to the legacy tag's manifest (a payload
    signed identically already there is not added twice), or as a new OCI 1.1 referrer."""
    repository = target.repository
    if mode == LEGACY:
        tag = kind.tag(target.digest)
        layers = _existing_layers(target, tag, kind)
        if not any(
            old.payload == layer.payload and old.signature == layer.signature for old in layers
        ):
            layers.append(layer)
        obj = signature_manifest(layers)
        repository.put(_object_image(obj), tag)
        return Stored(LEGACY, obj.digest, tag)
    if mode != OCI_1_1:
        raise InvalidArgument(f"unknown referrers mode {mode!r}", hint="use " + " or ".join(MODES))
    obj = referrer_manifest([layer], target.descriptor, artifact_type=kind.artifact_type)
    listed = repository.put(_object_image(obj), None)
    return Stored(OCI_1_1, obj.digest, listed)


def _existing_layers(target: Target, tag: str, kind: Kind) -> list[SignedLayer]:
    raw = target.repository.manifest(tag)
    if raw is None:
        return []
    try:
        return signed_layers(target.repository, raw, f"the {kind.what} manifest {tag}")
    except VerificationFailed as exc:
        raise Conflict(
            f"{target.repository.name}:{tag} holds something that is not a readable "
            f"{kind.what} manifest ({exc.message}); nothing was written",
            hint=f"look at what is tagged {tag} and delete that tag if it is garbage, "
            "or sign with --registry-referrers-mode oci-1-1",
        ) from None
