"""The replicator ``registry serve`` gives its replication rules: an image of the
registry's own storage (every read verified against its digest) pushed to a remote
registry with the registry client, which asks for each blob first (HEAD) and sends only
what the destination lacks, then carries what is attached to it (signatures and
attestations, in either layout) with ``copy``'s own carrying. A bandwidth limit is a
token bucket over the bytes uploaded (uploads cut in pieces of about a second's worth)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from imageforge.errors import NotFound
from imageforge.layers import open_image_or_index
from imageforge.oci import Descriptor, Digest, Reference
from imageforge.pipeline._registry_puller import RegistrySource, pull_image
from imageforge.pipeline._registry_verifier import _Stored
from imageforge.pipeline._sign_copy import carry_attached
from imageforge.pipeline._sign_repos import RegistryRepository
from imageforge.registry.meta import MetaStore
from imageforge.registry.replication import Endpoint, LocalRegistry, Transfer
from imageforge.remote import Client, Credentials, PushOptions, push
from imageforge.store import BlobReader

__all__ = ["RegistryReplicator", "TokenBucket"]

_UNSUPPORTED = (400, 405, 501)  # a registry that deletes manifests only by digest


class TokenBucket:
    """At most ``rate`` bytes a second on average, bursts up to ``rate`` bytes."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._tokens = float(rate)
        self._at = time.monotonic()

    def take(self, amount: int) -> None:
        """Spend ``amount`` bytes, sleeping until the bucket has refilled enough."""
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= amount
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


@dataclass
class _Counter:
    """A progress sink counting the blobs uploaded and their bytes, throttled."""

    bucket: TokenBucket
    blobs: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        pass

    def advance(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self.bytes += amount
        self.bucket.take(amount)

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        if not failed:
            with self._lock:
                self.blobs += 1

    def note(self, message: str) -> None:
        pass


class RegistryReplicator:
    """Pushes images of ``meta`` and ``storage`` to remote registries, and pulls
    images of remote registries into this one (``registry.replication.Puller``)."""

    def __init__(self, meta: MetaStore, storage: BlobReader) -> None:
        self.meta = meta
        self.storage = storage
        self._lock = threading.Lock()
        self._clients: dict[Endpoint, Client] = {}
        # the repository last written at each endpoint: blobs it holds are mounted from
        # it into the next one instead of sent again (a registry without mounts uploads)
        self._last: dict[Endpoint, str] = {}
        self._sources: dict[Endpoint, RegistrySource] = {}

    def _client(self, endpoint: Endpoint) -> Client:
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                creds = (
                    {endpoint.host: Credentials(endpoint.username, endpoint.password)}
                    if endpoint.username
                    else {}
                )
                # one retry here: the replication retries each item with its own backoff
                client = Client(
                    tls_verify=not endpoint.insecure, credentials=creds, retries=1, backoff=0.5
                )
                self._clients[endpoint] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            for source in self._sources.values():
                source.close()
            self._sources.clear()

    def source(self, endpoint: Endpoint) -> RegistrySource:
        return RegistrySource(endpoint)

    def pull(
        self,
        endpoint: Endpoint,
        repository: str,
        digest: Digest,
        tag: str,
        local: LocalRegistry,
        destination: str,
        bandwidth: int,
    ) -> Transfer:
        with self._lock:
            source = self._sources.get(endpoint)
            if source is None:
                source = self._sources[endpoint] = RegistrySource(endpoint)
        return pull_image(source, repository, digest, tag, local, destination, bandwidth)

    def push(
        self,
        repository: str,
        digest: Digest,
        tag: str,
        endpoint: Endpoint,
        destination: str,
        bandwidth: int,
    ) -> Transfer:
        row = self.meta.manifest(repository, digest)
        if row is None:
            raise NotFound(f"{repository}@{digest} is no longer in this registry")
        obj = open_image_or_index(
            self.storage.open, Descriptor(row.media_type, digest, row.size), validate=False
        )
        client = self._client(endpoint)
        ref = Reference.parse(f"{endpoint.host}/{destination}:{tag}")
        counter = _Counter(TokenBucket(bandwidth))
        with self._lock:
            mount = self._last.get(endpoint)
        options = PushOptions(jobs=2, mount_from=mount if mount != destination else None)
        if bandwidth > 0:  # pieces of about a second's worth, so the limit holds smoothly
            piece = max(64 << 10, min(bandwidth, 8 << 20))
            options = replace(options, jobs=1, monolithic_limit=piece, chunk_size=piece)
        push(client, obj, ref, options=options, progress=counter)
        with self._lock:
            self._last[endpoint] = destination
        carry_attached(
            _Stored(self.meta, self.storage, repository), RegistryRepository(client, ref), obj
        )
        return Transfer(counter.bytes, counter.blobs)

    def delete(self, endpoint: Endpoint, destination: str, tag: str) -> None:
        client = self._client(endpoint)
        host, what = endpoint.host, f"delete {destination}:{tag}"
        resp = client.send("DELETE", host, f"/v2/{destination}/manifests/{tag}", what=what)
        if resp.status_code == 404 or 200 <= resp.status_code < 300:
            return
        if resp.status_code not in _UNSUPPORTED:
            client.check(resp, host, what, (202,))
        try:  # distribution deletes by digest only: the artifact the tag names
            digest = client.get_manifest(host, destination, tag)[2]
        except NotFound:
            return
        client.request(
            "DELETE", host, f"/v2/{destination}/manifests/{digest}", what=what, ok=(202, 404)
        )
