"""Manifests and tags: the one way the registry reads a manifest (:func:`read_manifest`,
through ``oci.Manifest``/``oci.IndexManifest``), and the service that pushes, pulls,
lists and deletes them with their gates.

A push checks the manifest (JSON, media type, descriptors), that everything it names
is in the repository, the gates, then stores the body and commits the rows in one
transaction that checks the references again (garbage collection may have unlinked a
blob since) and runs the transactional gates (immutable tags). The body is written
again after the commit: garbage collection may have moved it aside in between (it
re-checks the database before deleting, and the commit is then visible to it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import (
    Descriptor,
    Digest,
    IndexManifest,
    Manifest,
    digest_bytes,
    load_json,
    media,
)
from imageforge.registry._names import NAME_RE, TAG_RE
from imageforge.registry.meta import ManifestRow, MetaStore, MetaView
from imageforge.registry.policy import GateContext, Gates
from imageforge.registry.service._errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
)
from imageforge.registry.storage import RegistryStorage

__all__ = [
    "MANIFEST_TYPES",
    "blobs_named_by",
    "stored_config",
    "stored_manifest",
    "Manifests",
    "PulledManifest",
    "parse_digest",
    "read_manifest",
    "valid_repository",
]

MANIFEST_TYPES = media.MANIFEST_TYPES | media.INDEX_TYPES


def parse_digest(value: str) -> Digest:
    """A digest the client sent; DigestInvalid if it is not one."""
    try:
        return Digest(value)
    except InvalidArgument as exc:
        raise DigestInvalid(exc.message) from None


def valid_repository(name: str) -> str:
    """``name`` if it is a repository name the spec allows; NameInvalid if not."""
    if not NAME_RE.fullmatch(name) or len(name) > 255:
        raise NameInvalid(f"invalid repository name {name!r}")
    return name


def read_manifest(raw: bytes, content_type: str = "") -> tuple[str, Manifest | IndexManifest]:
    """Parse a manifest or index: its media type (the body's ``mediaType``, else the
    ``content_type`` it came with, else by its content) and the parsed document.
    ManifestInvalid if it is not a schema 2 manifest or index of a type served here, or
    if the body's type contradicts the type it was sent as."""
    try:
        data = load_json(raw, "manifest")
    except InvalidArgument as exc:
        raise ManifestInvalid(exc.message) from None
    if not isinstance(data, dict):
        raise ManifestInvalid("manifest is not a JSON object")
    declared = data.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("manifest.mediaType: expected a string")
    sent = content_type.split(";")[0].strip()
    if declared and sent and sent != declared and sent in MANIFEST_TYPES:
        raise ManifestInvalid(f"Content-Type {content_type} differs from mediaType {declared}")
    mt = declared or sent or (media.OCI_INDEX if "manifests" in data else media.OCI_MANIFEST)
    if mt not in MANIFEST_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type {mt!r}")
    if data.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    try:
        if mt in media.INDEX_TYPES:
            return mt, IndexManifest.from_json(data, validate=False)
        return mt, Manifest.from_json(data, validate=False)
    except InvalidArgument as exc:
        raise ManifestInvalid(exc.message) from None


def _named_blobs(manifest: Manifest) -> list[Digest]:
    """The config and layers an image manifest names, foreign layers left out (they
    are not in any registry)."""
    layers = [d for d in manifest.layers if d.media_type != media.DOCKER_FOREIGN_LAYER]
    return [manifest.config.digest, *(d.digest for d in layers)]


def _body(storage: RegistryStorage, digest: Digest) -> bytes:
    with storage.open(digest) as f:
        return f.read()


def stored_manifest(storage: RegistryStorage, digest: Digest) -> Manifest | IndexManifest | None:
    """The stored manifest ``digest``, parsed; None if it is not stored (or not a
    manifest)."""
    try:
        return read_manifest(_body(storage, digest))[1]
    except (NotFound, InvalidArgument):
        return None


def stored_config(storage: RegistryStorage, digest: Digest) -> dict[str, Any] | None:
    """The stored image config ``digest`` as JSON; None if it is not stored or not a
    JSON object of at most 4 MiB."""
    try:
        with storage.open(digest) as f:
            raw = f.read(4 << 20)
        doc = load_json(raw, "config")
    except (NotFound, InvalidArgument):
        return None
    return doc if isinstance(doc, dict) else None


def blobs_named_by(storage: RegistryStorage, digest: Digest) -> list[str]:
    """The config and layer digests a stored image manifest names ([] for an index or
    anything else)."""
    parsed = stored_manifest(storage, digest)
    return [str(d) for d in _named_blobs(parsed)] if isinstance(parsed, Manifest) else []


@dataclass(frozen=True)
class PulledManifest:
    row: ManifestRow
    body: bytes  # empty when not asked for


class Manifests:
    """Pushes, pulls, listings and deletes of manifests and tags in one registry."""

    def __init__(self, meta: MetaStore, storage: RegistryStorage, gates: Gates) -> None:
        self.meta = meta
        self.storage = storage
        self.gates = gates
        # Called with each stored manifest after its push committed (scan on push).
        self.pushed: list[Callable[[ManifestRow, Manifest | IndexManifest], None]] = []

    def body(self, digest: Digest) -> bytes:
        return _body(self.storage, digest)

    # --- references
    def _reference(self, ref: str) -> tuple[Digest | None, str | None]:
        """A manifest reference: (digest, None) or (None, tag)."""
        if ":" in ref:
            return parse_digest(ref), None
        if not TAG_RE.fullmatch(ref):
            raise ManifestInvalid(f"invalid tag {ref!r}")
        return None, ref

    def _resolve(self, repo: str, ref: str) -> ManifestRow:
        digest, tag = self._reference(ref)
        if tag is not None:
            digest = self.meta.resolve_tag(repo, tag)
            if digest is None:
                raise ManifestUnknown(f"manifest {repo}:{ref} is not known")
        assert digest is not None
        row = self.meta.manifest(repo, digest)
        if row is None:
            raise ManifestUnknown(f"manifest {repo}@{digest} is not known")
        return row

    # --- pull
    def pull(
        self,
        repo: str,
        ref: str,
        user: str | None,
        accept: Collection[str] = (),
        with_body: bool = True,
        user_agent: str = "",
        bypass: str | None = None,
    ) -> PulledManifest:
        """The manifest ``repo:ref`` (tag or digest), if it is of a type the client
        accepts (``accept``: its Accept header's media types) and the pull gates allow
        it (``user_agent`` and ``bypass`` are the client's, as the gates see them); its
        body only ``with_body``."""
        row = self._resolve(repo, ref)
        accepted = set(accept)
        if accepted & MANIFEST_TYPES and row.media_type not in accepted and "*/*" not in accepted:
            raise ManifestUnknown(
                f"manifest {repo}:{ref} is {row.media_type}, not one of the accepted types"
            )
        body = self.body(row.digest) if with_body else b""
        if self.gates.wants("pull"):
            # Read and parsed only if a gate asks: the pull gates are registered in every
            # registry, and most projects have no policy that needs the manifest.
            def load() -> Manifest | IndexManifest:
                return read_manifest(body or self.body(row.digest), row.media_type)[1]

            ctx = GateContext(
                "pull",
                repo,
                user,
                reference=ref,
                tag=None if ":" in ref else ref,
                media_type=row.media_type,
                load_manifest=load,
                state=self.meta.view(),
                user_agent=user_agent,
                bypass=bypass,
            )
            self.gates.check(row.digest, ctx)
        return PulledManifest(row, body if with_body else b"")

    # --- push
    def _check(
        self, repo: str, raw: bytes, content_type: str
    ) -> tuple[str, Manifest | IndexManifest, ManifestRow, list[Digest], list[Digest]]:
        """Parse the manifest and check that the repository holds what it names: its
        media type, the parsed document, the row to store, its child manifests (an
        index) and the blobs it names (an image)."""
        mt, parsed = read_manifest(raw, content_type)
        blobs: list[Digest] = []
        children: list[Digest] = []
        artifact_type = parsed.artifact_type
        if isinstance(parsed, Manifest):
            blobs = _named_blobs(parsed)
            if artifact_type is None:
                artifact_type = parsed.config.media_type
            for b in blobs:
                if not self.meta.blob_linked(repo, b):
                    raise ManifestBlobUnknown(
                        f"blob {b} is not in {repo}", detail={"digest": str(b)}
                    )
        else:
            for child in parsed.manifests:
                if self.meta.manifest(repo, child.digest) is None:
                    raise ManifestBlobUnknown(
                        f"manifest {child.digest} is not in {repo}",
                        detail={"digest": str(child.digest)},
                    )
                children.append(child.digest)
        subject = None if parsed.subject is None else parsed.subject.digest
        row = ManifestRow(repo, digest_bytes(raw), mt, len(raw), artifact_type, subject)
        return mt, parsed, row, children, blobs

    def push(
        self, repo: str, ref: str, raw: bytes, content_type: str, user: str | None
    ) -> ManifestRow:
        """Store the manifest ``raw`` in ``repo`` under ``ref`` (a tag, which moves to
        it, or the digest it must have)."""
        expected, tag = self._reference(ref)
        mt, parsed, row, children, blobs = self._check(repo, raw, content_type)
        if expected is not None:
            actual = digest_bytes(raw, expected.algorithm)
            if actual != expected:
                raise DigestInvalid(f"manifest has digest {actual}, not {expected}")
            row = ManifestRow(
                repo, expected, row.media_type, row.size, row.artifact_type, row.subject
            )
        ctx = GateContext(
            "push",
            repo,
            user,
            reference=ref,
            tag=tag,
            media_type=mt,
            manifest=parsed,
            state=self.meta.view(),
        )
        self.gates.check(row.digest, ctx)
        self.storage.write_blob(raw, row.digest)
        try:
            self.meta.put_manifest(
                row, children, blobs, tag, lambda view: self.gates.check_in(view, row.digest, ctx)
            )
        except NotFound as exc:  # unlinked by garbage collection since the check above
            raise ManifestBlobUnknown(exc.message) from None
        # garbage collection may have moved the body aside since write_blob found it
        self.storage.write_blob(raw, row.digest)
        for hook in self.pushed:
            hook(row, parsed)
        return row

    # --- delete
    def delete(self, repo: str, ref: str, user: str | None) -> None:
        """Delete the manifest ``ref`` (a digest; its tags go with it) or the tag
        ``ref``, if the delete gates allow it (checked in the deleting transaction)."""
        digest, tag = self._reference(ref)
        if digest is not None:
            ctx = GateContext(
                "delete", repo, user, reference=ref, target="manifest", state=self.meta.view()
            )
            self.gates.check(digest, ctx)
            found = self.meta.delete_manifest(
                repo, digest, lambda view: self.gates.check_in(view, digest, ctx)
            )
            if not found:
                raise ManifestUnknown(f"manifest {repo}@{ref} is not known")
            return
        assert tag is not None
        named = self.meta.resolve_tag(repo, tag)
        if named is None:
            raise ManifestUnknown(f"tag {repo}:{ref} is not known")
        ctx = GateContext(
            "delete", repo, user, reference=ref, tag=tag, target="tag", state=self.meta.view()
        )
        self.gates.check(named, ctx)

        def guard(view: MetaView) -> None:
            target = view.tag_target(repo, tag)
            if target is None:  # deleted meanwhile
                raise ManifestUnknown(f"tag {repo}:{ref} is not known")
            self.gates.check_in(view, target, ctx)

        if not self.meta.delete_tag(repo, tag, guard):
            raise ManifestUnknown(f"tag {repo}:{ref} is not known")

    # --- listings
    def catalog(self, last: str | None, n: int | None) -> list[str]:
        return self.meta.repositories(last, n)

    def tags(self, repo: str, last: str | None, n: int | None) -> list[str]:
        if not self.meta.repo_exists(repo):
            raise NameUnknown(f"repository {repo} is not known")
        return self.meta.tags(repo, last, n)

    def referrers(self, repo: str, subject: Digest, artifact_type: str | None) -> list[Descriptor]:
        """The manifests of ``repo`` whose subject is ``subject`` (of ``artifact_type``
        only, if given), as descriptors with their artifact types and annotations."""
        out = []
        for r in self.meta.referrers(repo, subject):
            if artifact_type and r.artifact_type != artifact_type:
                continue
            parsed = stored_manifest(self.storage, r.digest)
            annotations = {} if parsed is None else parsed.annotations
            out.append(
                Descriptor(
                    r.media_type, r.digest, r.size, annotations, artifact_type=r.artifact_type
                )
            )
        return out
