"""The local store: blobs, refs, the store-wide lock, reachability and prune.

What lives under the root is named once, in ``_layout`` (:class:`StoreLayout`,
``Store.layout``). Writers (import, build, pull) hold the store lock shared for
the whole operation, so a blob they committed but have not yet named cannot be pruned
under them; ``prune`` holds it exclusively.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, IndexManifest, Manifest, parse_any, walk_graph
from imageforge.store._blobs import FileBlobStore
from imageforge.store._layout import StoreLayout
from imageforge.store._lock import FileLock
from imageforge.store._refs import RefStore
from imageforge.store._roles import BlobInfo

__all__ = ["PruneReport", "Store"]

STALE_INGEST_SECONDS = 24 * 3600


MAX_MANIFEST_BYTES = 4 << 20  # the distribution spec's limit for a manifest


@dataclass
class PruneReport:
    removed: list[BlobInfo] = field(default_factory=list)
    ingests_removed: int = 0

    @property
    def freed(self) -> int:
        return sum(b.size for b in self.removed)


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = StoreLayout(root)
        root.mkdir(parents=True, exist_ok=True)
        self.blobs = FileBlobStore(root)
        self.refs = RefStore(self.layout.refs_db)
        self.lock = FileLock(self.layout.lock)

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold while adding content, until the refs that keep it are set."""
        with self.lock.shared():
            yield self

    def read_manifest(self, digest: Digest) -> tuple[bytes, Manifest | IndexManifest]:
        if self.blobs.info(digest).size > MAX_MANIFEST_BYTES:
            raise InvalidArgument(
                f"blob {digest} is {self.blobs.info(digest).size} bytes: too big for a manifest"
            )
        with self.blobs.open(digest) as f:
            raw = f.read()
        # Schema-checked on the way in (see transports): parse without a schema pass.
        return raw, parse_any(raw, what=f"manifest {digest}", validate=False)

    def children(self, digest: Digest) -> list[Digest]:
        """Blobs a manifest or index points to directly."""
        _, doc = self.read_manifest(digest)
        if isinstance(doc, IndexManifest):
            return [d.digest for d in doc.manifests]
        return [doc.config.digest, *(d.digest for d in doc.layers)]

    def reachable(self) -> set[Digest]:
        """Every blob some ref leads to (manifests, configs, layers, children of indexes);
        a ref to a missing or unreadable blob keeps nothing more."""
        leaves: set[Digest] = set()

        def manifests_below(digest: Digest) -> list[Digest]:
            if not self.blobs.exists(digest):
                return []
            try:
                _, doc = self.read_manifest(digest)
            except InvalidArgument:
                return []  # a config or layer blob, not a manifest
            if isinstance(doc, IndexManifest):
                return [d.digest for d in doc.manifests]
            # a config and layers are leaves: never read them here
            leaves.add(doc.config.digest)
            leaves.update(d.digest for d in doc.layers)
            return []

        roots = [entry.digest for entry in self.refs.all()]
        return set(walk_graph(roots, manifests_below)) | leaves

    def prune(self, *, dry_run: bool = False) -> PruneReport:
        """Delete blobs no ref leads to, and ingests abandoned for a day."""
        report = PruneReport()
        with self.lock.exclusive():
            keep = self.reachable()
            for info in list(self.blobs.walk()):
                if info.digest not in keep:
                    report.removed.append(info)
                    if not dry_run:
                        self.blobs.delete(info.digest)
            for path in self.blobs.stale_ingests(STALE_INGEST_SECONDS):
                report.ingests_removed += 1
                if not dry_run:
                    shutil.rmtree(path, ignore_errors=True)
        return report

    def resolve(self, name_or_digest: str) -> Digest:
        """A ref name (already normalised) or a digest / unique digest prefix -> digest."""
        try:
            return self.refs.get(name_or_digest).digest
        except NotFound:
            pass
        if name_or_digest.startswith("sha256:") and len(name_or_digest) == 71:
            digest = Digest(name_or_digest)
            if self.blobs.exists(digest):
                return digest
        prefix = name_or_digest.removeprefix("sha256:")
        if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
            matches = {e.digest for e in self.refs.all() if e.digest.hex.startswith(prefix)}
            if len(matches) == 1:
                return matches.pop()
            if len(matches) > 1:
                raise InvalidArgument(
                    f"{name_or_digest!r} matches {len(matches)} images",
                    hint="give more digits of the ID",
                )
        raise NotFound(
            f"image {name_or_digest!r} is not in the store",
            hint="'imageforge images' lists what the store holds",
        )
