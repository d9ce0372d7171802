"""Pull replication's remote side: another registry read as a replication
:class:`~imageforge.registry.replication.Source` over the proxy's upstream client
(``HttpUpstream``: its auth, and its check of every redirect before it is followed, so a
manifest is taken from the source's own host only), and one image copied from it into
this registry (:func:`pull_image`) through the registry's services
(``LocalRegistry``).

What the source sends is checked before anything is stored: each manifest against the
digest it was asked for (the one the plan read from the tag), that it parses as a
manifest, each blob against its digest by the upload session's commit. Children come
before the manifest naming them, so an interrupted pull leaves nothing that names what
is not here, and the next run fetches only what is missing: a manifest here is not
fetched again, nor a blob this registry has (linked from another repository instead).
What is attached at the source (cosign's ``.sig``/``.att`` tags, OCI 1.1 referrers)
is carried with ``copy``'s own carrying."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote, urljoin, urlsplit

from imageforge.errors import (
    Denied,
    DigestMismatch,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unsupported,
)
from imageforge.layers import open_image_or_index
from imageforge.oci import (
    Descriptor,
    Digest,
    Image,
    IndexManifest,
    Manifest,
    digest_bytes,
    media,
    walk_graph,
)
from imageforge.pipeline._proxy_upstream import HttpUpstream
from imageforge.pipeline._registry_verifier import _Stored
from imageforge.pipeline._sign_copy import carry_attached
from imageforge.pipeline._sign_repos import Repository
from imageforge.registry.proxy import BlobStream, UpstreamSpec
from imageforge.registry.replication import Endpoint, LocalRegistry, Transfer
from imageforge.registry.service import DigestInvalid, read_manifest

__all__ = ["RegistrySource", "pull_image"]

_MAX_LISTING = 8 << 20  # bytes of one page of a catalog or tag list
_MAX_DOCUMENT = 4 << 20  # bytes of a config read for its labels
_MAX_DEPTH = 2  # an index of indexes at most, as the proxy
_CHUNK = 1 << 20


class RegistrySource(HttpUpstream):
    """The registry at a replication endpoint, read (``registry.replication.Source``)."""

    def __init__(self, endpoint: Endpoint) -> None:
        spec = UpstreamSpec(endpoint.url, endpoint.username or None, endpoint.password or None)
        super().__init__(spec, tls_verify=not endpoint.insecure)

    def _listing(self, path: str, key: str, what: str) -> list[str]:
        """Every entry of the paginated list ``key`` at ``path`` (``Link`` pages, on
        the source's own origin only)."""
        out: list[str] = []
        while True:
            resp = self._send("GET", path, what)
            try:
                body = b""
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_LISTING:
                        raise InvalidArgument(f"{self.base}: {what}: larger than {_MAX_LISTING}")
            finally:
                resp.close()
            try:
                page = json.loads(body).get(key) or []
            except (ValueError, AttributeError):
                raise InvalidArgument(f"{self.base}: {what}: not a JSON list of {key}") from None
            if not isinstance(page, list) or not all(isinstance(x, str) for x in page):
                raise InvalidArgument(f"{self.base}: {what}: {key} is not a list of names")
            out += page
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return out
            url = urljoin(self.base + path, nxt)
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != self.base:
                raise InvalidArgument(f"{self.base}: {what}: the next page is on another host")
            path = parts.path + (f"?{parts.query}" if parts.query else "")

    def repositories(self) -> list[str] | None:
        try:
            return self._listing("/v2/_catalog", "repositories", "catalog")
        except (NotFound, Unsupported, Unauthorized, Denied):
            return None  # no catalog (Docker Hub), or not for these credentials

    def tags(self, repository: str) -> list[str]:
        return self._listing(f"/v2/{repository}/tags/list", "tags", f"tags of {repository}")

    def digest(self, repository: str, tag: str) -> Digest:
        return self.head(repository, tag)

    def fetch(self, repository: str, digest: Digest) -> tuple[bytes, str]:
        """The manifest ``repository@digest`` and its media type, checked against the
        digest; DigestMismatch (nothing stored) if it is not that manifest."""
        got = self.manifest(repository, str(digest))
        actual = digest_bytes(got.body, digest.algorithm)
        if actual != digest:
            raise DigestMismatch(
                f"{self.base}/{repository}: manifest {digest} from the source has digest"
                f" {actual}; refused, nothing was stored",
                expected=str(digest),
                actual=str(actual),
                hint="the source registry is serving corrupt or forged content",
            )
        return got.body, got.media_type

    def open_blob(self, repository: str, digest: Digest) -> BlobStream:
        return self.blob(repository, digest)[1]

    def labels(self, repository: str, digest: Digest) -> dict[str, str]:
        body, media_type = self.fetch(repository, digest)
        parsed = read_manifest(body, media_type)[1]
        if not isinstance(parsed, Manifest) or not media.is_image_config(parsed.config.media_type):
            return {}
        stream = self.open_blob(repository, parsed.config.digest)
        try:
            raw = b"".join(_chunks(stream, lambda _n: None, _MAX_DOCUMENT + 1))
        finally:
            stream.close()
        if len(raw) > _MAX_DOCUMENT or digest_bytes(raw) != parsed.config.digest:
            raise DigestMismatch(f"{self.base}/{repository}: config of {digest} is not its digest")
        doc = json.loads(raw)
        cfg = doc.get("config") if isinstance(doc, dict) else None
        labels = cfg.get("Labels") if isinstance(cfg, dict) else None
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    def referrers(
        self, repository: str, digest: Digest, artifact_type: str
    ) -> list[Descriptor] | None:
        what = f"referrers of {repository}@{digest}"
        path = f"/v2/{repository}/referrers/{digest}?artifactType={quote(artifact_type, safe='')}"
        try:
            resp = self._send("GET", path, what, {"Accept": media.OCI_INDEX})
        except (NotFound, Unsupported):
            return None  # no referrers API (distribution 2.8): the tag schema lists them
        try:
            body = resp.read()
        finally:
            resp.close()
        index = IndexManifest.parse(body, what=what, validate=False)
        return [d for d in index.manifests if d.artifact_type == artifact_type]


def _chunks(stream: BlobStream, take: Callable[[int], None], limit: int = 0) -> Iterator[bytes]:
    """``stream``'s bytes in pieces, each paid for with ``take`` before it goes on;
    at most ``limit`` bytes (0: all)."""
    seen = 0
    while chunk := stream.read(_CHUNK):
        take(len(chunk))
        yield chunk
        seen += len(chunk)
        if limit and seen >= limit:
            return


class _Meter:
    """The bytes and blobs a pull fetched, at most ``rate`` bytes a second."""

    def __init__(self, rate: int) -> None:
        from imageforge.pipeline._registry_replicator import TokenBucket

        self.bucket = TokenBucket(rate)
        self.rate = rate
        self.bytes = 0
        self.blobs = 0
        self._lock = threading.Lock()

    def take(self, amount: int) -> None:
        with self._lock:
            self.bytes += amount
        if self.rate <= 0:
            return
        for start in range(0, amount, self.rate):  # a second's worth at a time
            self.bucket.take(min(self.rate, amount - start))


class _Reader(io.RawIOBase):
    """A source's blob stream as a file (what ``copy``'s carrying reads), metered."""

    def __init__(self, stream: BlobStream, meter: _Meter) -> None:
        super().__init__()
        self._pieces = _chunks(stream, meter.take)
        self._stream = stream
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._left:
            self._left = next(self._pieces, b"")
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


class _SourceRepository:
    """A repository of the source, read only, as ``copy``'s carrying reads one; a blob
    this registry has is read here (the same bytes: it goes by its digest)."""

    layout: str | None = None

    def __init__(
        self, source: RegistrySource, repo: str, meter: _Meter, local: LocalRegistry
    ) -> None:
        self.source = source
        self.repo = repo
        self.meter = meter
        self.local = local

    @property
    def name(self) -> str:
        return f"{self.source.host}/{self.repo}"

    def manifest(self, ref: str) -> bytes | None:
        try:
            if ":" in ref:
                return self.source.fetch(self.repo, Digest(ref))[0]
            return self.source.fetch(self.repo, self.source.head(self.repo, ref))[0]
        except NotFound:
            return None

    def opener(self) -> Callable[[Digest], IO[bytes]]:
        def open_(digest: Digest) -> IO[bytes]:
            if self.local.storage.exists(digest):
                return self.local.storage.open(digest)
            return io.BufferedReader(_Reader(self.source.open_blob(self.repo, digest), self.meter))

        return open_

    def referrers(self, digest: Digest, artifact_type: str) -> list[Descriptor] | None:
        return self.source.referrers(self.repo, digest, artifact_type)

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        raise Unsupported(f"{self.name}: a pull only reads its source")


class _LocalRepository(_Stored):
    """A repository of this registry, written through its services."""

    def __init__(self, local: LocalRegistry, repo: str, meter: _Meter) -> None:
        super().__init__(local.meta, local.storage, repo)
        self.local = local
        self.meter = meter

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        if tag is not None and self.meta.resolve_tag(self.repo, tag) == image.digest:
            return tag  # carried by an earlier run
        manifest = image.manifest()
        if not self.local.has_blob(self.repo, manifest.config.digest):
            self.local.write_blob(self.repo, manifest.config.digest, [image.raw_config()])
            self.meter.blobs += 1
        for layer in image.layers():
            if layer.media_type == media.DOCKER_FOREIGN_LAYER:
                continue
            if not self.local.has_blob(self.repo, layer.digest):
                with layer.open_compressed() as f:
                    pieces = iter(lambda: f.read(_CHUNK), b"")
                    self.local.write_blob(self.repo, layer.digest, pieces)
                self.meter.blobs += 1
        ref = tag if tag is not None else str(image.digest)
        self.local.put_manifest(self.repo, ref, image.raw_manifest(), image.media_type)
        return tag  # None: this registry lists referrers by their subject


@dataclass(frozen=True)
class _Node:
    """A manifest of the source, fetched and checked."""

    digest: Digest
    body: bytes
    media_type: str
    parsed: Manifest | IndexManifest
    depth: int  # how many indexes above it


def _fetched(source: RegistrySource, repo: str, digest: Digest, depth: int) -> _Node:
    body, content_type = source.fetch(repo, digest)
    media_type, parsed = read_manifest(body, content_type)
    return _Node(digest, body, media_type, parsed, depth)


def _store(
    source: RegistrySource,
    repo: str,
    digest: Digest,
    tag: str,
    local: LocalRegistry,
    destination: str,
    meter: _Meter,
) -> None:
    """Store ``repo@digest`` in ``destination`` as ``tag``: an index's children
    (those not here yet) before it, each image's blobs before its manifest."""

    def children(node: _Node) -> Iterator[_Node]:
        if not isinstance(node.parsed, IndexManifest):
            return
        if node.depth >= _MAX_DEPTH:
            raise InvalidArgument(f"{source.base}/{repo}: indexes nested deeper than {_MAX_DEPTH}")
        for child in node.parsed.manifests:
            if not local.has_manifest(destination, child.digest):
                yield _fetched(source, repo, child.digest, node.depth + 1)

    for node in walk_graph([_fetched(source, repo, digest, 0)], children, lambda n: n.digest):
        if isinstance(node.parsed, Manifest):
            layers = [d for d in node.parsed.layers if d.media_type != media.DOCKER_FOREIGN_LAYER]
            for desc in (node.parsed.config, *layers):
                if not local.has_blob(destination, desc.digest):
                    _fetch_blob(source, repo, desc.digest, local, destination, meter)
        ref = tag if node.digest == digest else str(node.digest)
        local.put_manifest(destination, ref, node.body, node.media_type)


def _fetch_blob(
    source: RegistrySource,
    repo: str,
    digest: Digest,
    local: LocalRegistry,
    destination: str,
    meter: _Meter,
) -> None:
    stream = source.open_blob(repo, digest)
    try:
        local.write_blob(destination, digest, _chunks(stream, meter.take))
    except DigestInvalid as exc:
        raise DigestMismatch(
            f"{source.base}/{repo}: blob {digest} from the source: {exc.message};"
            " refused, nothing was stored",
            hint="the source registry is serving corrupt or forged content",
        ) from None
    finally:
        stream.close()
    meter.blobs += 1


def pull_image(
    source: RegistrySource,
    repository: str,
    digest: Digest,
    tag: str,
    local: LocalRegistry,
    destination: str,
    bandwidth: int,
) -> Transfer:
    """Copy ``repository@digest`` of ``source`` with what is attached to it into
    ``local`` as ``destination:tag``; what was fetched."""
    meter = _Meter(bandwidth)
    if local.meta.resolve_tag(destination, tag) != digest:
        if local.has_manifest(destination, digest):  # fetched already: the tag moves
            row = local.meta.manifest(destination, digest)
            assert row is not None
            with local.storage.open(digest) as f:
                local.put_manifest(destination, tag, f.read(), row.media_type)
        else:
            _store(source, repository, digest, tag, local, destination, meter)
    row = local.meta.manifest(destination, digest)
    if row is None:
        raise NotFound(f"{destination}@{digest} was deleted while it was pulled")
    written = open_image_or_index(
        local.storage.open, Descriptor(row.media_type, digest, row.size), validate=False
    )
    carry_attached(
        _SourceRepository(source, repository, meter, local),
        _LocalRepository(local, destination, meter),
        written,
    )
    return Transfer(meter.bytes, meter.blobs)
