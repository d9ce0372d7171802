"""Signatures and attestations in a registry, in both of cosign's layouts.

- legacy: one manifest tagged ``sha256-<hex>.sig`` (``.att``) in the image's repository,
  one layer per signed payload; a new signature is appended to the manifest already
  there, as cosign appends it.
- OCI 1.1 (``--registry-referrers-mode oci-1-1``): one manifest per signature whose
  ``subject`` is the image, found through the referrers API; on a registry without that
  API (distribution 2.8) through the referrers tag schema of the distribution spec 1.1
  (an index tagged ``sha256-<hex>`` listing the referrers), which this module keeps up
  to date when it pushes a referrer there.

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
from imageforge.oci import (
    Descriptor,
    Digest,
    IndexManifest,
    Manifest,
    Reference,
    digest_bytes,
    media,
)
from imageforge.remote import Client, PushOptions, push, registry_host
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
]

LEGACY: Final = "legacy"
OCI_1_1: Final = "oci-1-1"
MODES: Final = (LEGACY, OCI_1_1)
_MAX_PAYLOAD: Final = 4 << 20  # as sign.read_signed_layers bounds a payload
_MAX_INDEX: Final = 4 << 20
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
class Target:
    """The image a signature is for: the repository as the user named it and the
    manifest the name resolved to (once: everything after uses the digest)."""

    reference: Reference
    descriptor: Descriptor

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def host(self) -> str:
        return registry_host(self.reference.domain)

    @property
    def repo(self) -> str:
        return self.reference.path

    @property
    def pinned(self) -> Reference:
        """The image by digest: what is signed and checked."""
        return self.reference.with_digest(self.digest)


def resolve_target(client: Client, reference: Reference) -> Target:
    """``reference`` resolved to its manifest's digest (a tag is read once)."""
    ref = reference.with_default_tag()
    host = registry_host(ref.domain)
    raw, media_type, digest = client.get_manifest(
        host, ref.path, str(ref.digest) if ref.digest is not None else str(ref.tag)
    )
    return Target(ref, Descriptor(media_type, digest, len(raw)))


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


def _blob_reader(client: Client, host: str, repo: str) -> Callable[[Digest], bytes]:
    def read(digest: Digest) -> bytes:
        with client.open_blob(host, repo, digest) as f:
            return f.read(_MAX_PAYLOAD + 1)

    return read


def _manifest_or_none(client: Client, host: str, repo: str, ref: str) -> bytes | None:
    try:
        return client.get_manifest(host, repo, ref)[0]
    except NotFound:
        return None


def _read(client: Client, target: Target, raw: bytes, layout: str, what: str, found: Found) -> None:
    try:
        layers = read_signed_layers(raw, _blob_reader(client, target.host, target.repo), what=what)
    except VerificationFailed as exc:
        found.problems.append(exc)
        return
    except NotFound as exc:  # a payload blob the manifest names is not there
        found.problems.append(VerificationFailed(f"{what}: {exc.message}", reason="malformed"))
        return
    digest = digest_bytes(raw)
    found.attached.extend(Attached(layout, digest, layer) for layer in layers)


def referrers_tag(digest: Digest) -> str:
    """The distribution spec 1.1's referrers tag schema: ``<alg>-<hex>``."""
    return f"{digest.algorithm}-{digest.hex}"


def _referrers(client: Client, target: Target, artifact_type: str) -> list[Descriptor] | None:
    """The referrers of ``target`` of ``artifact_type`` through the referrers API;
    None when the registry has no such API (it answers 404, which the spec forbids a
    registry with the API to answer, or 405 as some registries do)."""
    what = f"referrers of {target.repo}@{target.digest}"
    resp = client.send(
        "GET",
        target.host,
        f"/v2/{target.repo}/referrers/{target.digest}",
        what=what,
        params={"artifactType": artifact_type},
        headers={"Accept": media.OCI_INDEX},
    )
    if resp.status_code in (404, 405):
        return None
    client.check(resp, target.host, what, (200,))
    if len(resp.content) > _MAX_INDEX:
        raise InvalidArgument(f"{target.host}: {what}: larger than {_MAX_INDEX} bytes")
    index = IndexManifest.parse(resp.content, what=what, validate=False)
    return [d for d in index.manifests if d.artifact_type == artifact_type]


def _tag_schema_index(client: Client, target: Target) -> IndexManifest | None:
    raw = _manifest_or_none(client, target.host, target.repo, referrers_tag(target.digest))
    if raw is None:
        return None
    return IndexManifest.parse(raw, what=f"referrers tag {referrers_tag(target.digest)}")


def find_attached(client: Client, target: Target, kind: Kind) -> Found:
    """Every signed payload of ``kind`` attached to ``target`` in either layout."""
    found = Found()
    tag = kind.tag(target.digest)
    found.looked.append(f"tag {tag}")
    raw = _manifest_or_none(client, target.host, target.repo, tag)
    if raw is not None:
        found.objects.append((digest_bytes(raw), tag))
        _read(client, target, raw, LEGACY, f"{kind.what} manifest {tag}", found)
    referrers = _referrers(client, target, kind.artifact_type)
    if referrers is None:
        found.looked.append(f"referrers tag {referrers_tag(target.digest)}")
        try:
            index = _tag_schema_index(client, target)
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
        raw = _manifest_or_none(client, target.host, target.repo, str(desc.digest))
        if raw is None:
            found.problems.append(
                VerificationFailed(f"{what}: listed, but not in the registry", reason="malformed")
            )
            continue
        found.objects.append((desc.digest, None))
        _read(client, target, raw, OCI_1_1, what, found)
    return found


@dataclass(frozen=True)
class Stored:
    """Where a signature (or attestation) was written: the layout, the manifest
    holding it, and the tag it is under (the legacy layout, or the referrers tag
    schema on a registry without the referrers API; None when the API lists it)."""

    layout: str
    manifest: Digest
    tag: str | None


def _push_object(client: Client, target: Target, obj: SignatureObject, tag: str | None) -> None:
    blobs = obj.blobs

    def opener(digest: Digest) -> io.BytesIO:
        return io.BytesIO(blobs[digest])

    image = BlobImage(opener, obj.manifest_bytes, validate=False)
    ref = target.reference.with_tag(tag) if tag else target.reference.with_digest(obj.digest)
    push(client, image, ref, options=PushOptions(jobs=2))


def copy_object(
    client: Client, source: Target, destination: Target, digest: Digest, tag: str | None
) -> None:
    """Copy the signature (or attestation) manifest ``digest`` attached to ``source``
    to ``destination`` as it is (its bytes, so its digest, unchanged): under ``tag``
    (the legacy layout), or as a referrer, listed in the referrers tag schema when the
    destination has no referrers API."""
    raw = client.get_manifest(source.host, source.repo, str(digest))[0]
    image = BlobImage(client.blob_opener(source.host, source.repo), raw, validate=False)
    mount = source.repo if source.host == destination.host else None
    ref = destination.reference.with_tag(tag) if tag else destination.reference.with_digest(digest)
    push(client, image, ref, options=PushOptions(jobs=2, mount_from=mount))
    if tag is None:
        manifest = Manifest.parse(raw, what=f"referrer {digest}", validate=False)
        if _referrers(client, destination, manifest.artifact_type or "") is None:
            desc = Descriptor(
                manifest.media_type, digest, len(raw), artifact_type=manifest.artifact_type
            )
            _add_to_tag_schema(client, destination, desc, referrers_tag(destination.digest))


def attach(client: Client, target: Target, layer: SignedLayer, kind: Kind, mode: str) -> Stored:
    """Store ``layer`` for ``target``: appended to the legacy tag's manifest (a payload
    signed identically already there is not added twice), or as a new OCI 1.1 referrer."""
    if mode == LEGACY:
        tag = kind.tag(target.digest)
        layers = _existing_layers(client, target, tag, kind)
        if not any(
            old.payload == layer.payload and old.signature == layer.signature for old in layers
        ):
            layers.append(layer)
        obj = signature_manifest(layers)
        _push_object(client, target, obj, tag)
        return Stored(LEGACY, obj.digest, tag)
    if mode != OCI_1_1:
        raise InvalidArgument(f"unknown referrers mode {mode!r}", hint="use " + " or ".join(MODES))
    has_api = _referrers(client, target, kind.artifact_type) is not None
    obj = referrer_manifest([layer], target.descriptor, artifact_type=kind.artifact_type)
    _push_object(client, target, obj, None)
    if has_api:
        return Stored(OCI_1_1, obj.digest, None)
    tag = referrers_tag(target.digest)
    _add_to_tag_schema(client, target, obj.descriptor, tag)
    return Stored(OCI_1_1, obj.digest, tag)


def _existing_layers(client: Client, target: Target, tag: str, kind: Kind) -> list[SignedLayer]:
    raw = _manifest_or_none(client, target.host, target.repo, tag)
    if raw is None:
        return []
    try:
        return read_signed_layers(
            raw,
            _blob_reader(client, target.host, target.repo),
            what=f"the {kind.what} manifest {tag}",
        )
    except VerificationFailed as exc:
        raise Conflict(
            f"{target.reference.name}:{tag} holds something that is not a readable "
            f"{kind.what} manifest ({exc.message}); nothing was written",
            hint=f"look at what is tagged {tag} and delete that tag if it is garbage, "
            "or sign with --registry-referrers-mode oci-1-1",
        ) from None


def _add_to_tag_schema(client: Client, target: Target, desc: Descriptor, tag: str) -> None:
    try:
        index = _tag_schema_index(client, target)
    except InvalidArgument as exc:
        raise Conflict(
            f"{target.reference.name}:{tag} is not a referrers index ({exc.message}); "
            f"the referrer {desc.digest} was pushed but is not listed",
            hint=f"delete the tag {tag} and sign again",
        ) from None
    entries = list(index.manifests) if index else []
    if any(d.digest == desc.digest for d in entries):
        return
    entries.append(desc)
    raw = IndexManifest(tuple(entries)).to_bytes()
    client.put_manifest(target.host, target.repo, tag, raw, media.OCI_INDEX)
