"""The signature verifier ``registry serve`` gives its signature policies: it finds
what is attached to a stored manifest in the registry's own metadata and storage (the
legacy ``sha256-<hex>.sig``/``.att`` tags and OCI 1.1 referrers) with
``imageforge verify``'s own discovery, over the registry's storage as a read-only
:class:`Repository`, and checks each payload with ``verify``'s own checks, against the
project's public keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO

from imageforge.errors import NotFound, Unsupported
from imageforge.oci import Descriptor, Digest, Image, media
from imageforge.pipeline._sign import _check as check_signature
from imageforge.pipeline._sign import raise_unverified
from imageforge.pipeline._sign_attest import _check as check_attestation
from imageforge.pipeline._sign_repos import Repository
from imageforge.pipeline._sign_store import (
    ATTESTATIONS,
    SIGNATURES,
    Attached,
    Kind,
    Target,
    find_attached,
)
from imageforge.registry.meta import MetaStore
from imageforge.sign import (
    KeyVerifier,
    VerificationFailed,
    load_public_key,
    predicate_type,
)
from imageforge.store import BlobReader

__all__ = ["RegistrySignatures"]

_MAX = 4 << 20  # bytes of a signature manifest read


class _Stored:
    """One repository of the registry's own metadata and storage, read-only, as the
    :class:`Repository` ``verify``'s discovery (``find_attached``) reads."""

    layout: str | None = None

    def __init__(self, meta: MetaStore, storage: BlobReader, repo: str) -> None:
        self.meta = meta
        self.storage = storage
        self.repo = repo

    @property
    def name(self) -> str:
        return self.repo

    def manifest(self, ref: str) -> bytes | None:
        digest = Digest(ref) if ref.startswith("sha256:") else self.meta.resolve_tag(self.repo, ref)
        if digest is None or self.meta.manifest(self.repo, digest) is None:
            return None
        try:
            with self.storage.open(digest) as f:
                return f.read(_MAX + 1)
        except NotFound:
            return None

    def opener(self) -> Callable[[Digest], IO[bytes]]:
        return self.storage.open

    def referrers(self, digest: Digest, artifact_type: str) -> list[Descriptor] | None:
        return [
            Descriptor(r.media_type, r.digest, r.size, artifact_type=r.artifact_type)
            for r in self.meta.referrers(self.repo, digest)
            if r.artifact_type == artifact_type
        ]

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        raise Unsupported(f"{self.repo}: the registry's signature verifier only reads")


class RegistrySignatures:
    """Verifies signatures and attestations stored in ``meta`` and ``storage``."""

    def __init__(self, meta: MetaStore, storage: BlobReader) -> None:
        self.meta = meta
        self.storage = storage

    def _first(
        self,
        repo: str,
        digest: Digest,
        keys: Sequence[str],
        kind: Kind,
        check: Callable[[Attached, Target, KeyVerifier], object],
    ) -> str | None:
        target = Target(
            _Stored(self.meta, self.storage, repo), Descriptor(media.OCI_MANIFEST, digest, 0)
        )
        found = find_attached(target, kind)
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
            return exc.message

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
