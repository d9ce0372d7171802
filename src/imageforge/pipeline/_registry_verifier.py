"""The signature verifier ``registry serve`` gives its signature policies: it finds
what is attached to a stored manifest in the registry's own metadata and storage (the
legacy ``sha256-<hex>.sig``/``.att`` tags and OCI 1.1 referrers, as
``imageforge verify`` finds them over HTTP) and checks each payload with
``imageforge verify``'s own checks, against the project's public keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imageforge.errors import ImageforgeError
from imageforge.oci import Descriptor, Digest, Reference, media
from imageforge.pipeline._sign import _check as check_signature
from imageforge.pipeline._sign import raise_unverified
from imageforge.pipeline._sign_attest import _check as check_attestation
from imageforge.pipeline._sign_store import (
    ATTESTATIONS,
    LEGACY,
    OCI_1_1,
    SIGNATURES,
    Attached,
    Found,
    Kind,
    Target,
)
from imageforge.registry.meta import MetaStore
from imageforge.sign import (
    KeyVerifier,
    VerificationFailed,
    load_public_key,
    predicate_type,
    read_signed_layers,
)
from imageforge.store import BlobReader

__all__ = ["RegistrySignatures"]

_MAX = 4 << 20  # bytes of a signature manifest or payload read
_HOST = "registry.invalid"  # a reference needs a host; never shown


class RegistrySignatures:
    """Verifies signatures and attestations stored in ``meta`` and ``storage``."""

    def __init__(self, meta: MetaStore, storage: BlobReader) -> None:
        self.meta = meta
        self.storage = storage

    def _read(self, digest: Digest) -> bytes:
        with self.storage.open(digest) as f:
            return f.read(_MAX + 1)

    def _found(self, repo: str, target: Target, kind: Kind) -> Found:
        found = Found(looked=[f"tag {kind.tag(target.digest)}", "the referrers"])
        objects: list[tuple[str, Digest]] = []
        tagged = self.meta.resolve_tag(repo, kind.tag(target.digest))
        if tagged is not None:
            objects.append((LEGACY, tagged))
        objects += [
            (OCI_1_1, r.digest)
            for r in self.meta.referrers(repo, target.digest)
            if r.artifact_type == kind.artifact_type
        ]
        for layout, digest in objects:
            try:
                layers = read_signed_layers(self._read(digest), self._read, what=f"{digest}")
            except (VerificationFailed, ImageforgeError) as exc:
                found.problems.append(
                    exc
                    if isinstance(exc, VerificationFailed)
                    else VerificationFailed(exc.message, reason="malformed")
                )
                continue
            found.attached += [Attached(layout, digest, layer) for layer in layers]
        return found

    def _first(
        self,
        repo: str,
        digest: Digest,
        keys: Sequence[str],
        kind: Kind,
        check: Callable[[Attached, Target, KeyVerifier], object],
    ) -> str | None:
        target = Target(
            Reference.parse(f"{_HOST}/{repo}@{digest}"), Descriptor(media.OCI_MANIFEST, digest, 0)
        )
        found = self._found(repo, target, kind)
        failures: list[VerificationFailed] = []
        for pem in keys:
            verifier = KeyVerifier(load_public_key(pem.encode(), what="a project key"))
            for attached in found.attached:
                try:
                    check(attached, target, verifier)
                    return None
                except VerificationFailed as exc:
                    failures.append(exc)
        try:
            raise_unverified(target, found, failures, kind.what)
        except VerificationFailed as exc:
            return exc.message.replace(f"{_HOST}/", "")

    def verify(self, repo: str, digest: Digest, keys: Sequence[str]) -> str | None:
        return self._first(
            repo,
            digest,
            keys,
            SIGNATURES,
            lambda a, t, v: check_signature(a, t, v, {}, None),
        )

    def attested(
        self, repo: str, digest: Digest, keys: Sequence[str], predicate: str
    ) -> str | None:
        wanted = predicate_type(predicate)

        def check(attached: Attached, target: Target, verifier: KeyVerifier) -> None:
            statement = check_attestation(attached, target, verifier).statement
            if statement.predicate_type != wanted:
                raise VerificationFailed(
                    f"an attestation of {statement.predicate_type}, not {wanted}",
                    reason="policy-violation",
                )

        return self._first(repo, digest, keys, ATTESTATIONS, check)
