"""Proxy-cache projects (Harbor's model): ``NAME/library/alpine:3.19`` in a project
that proxies an upstream is ``library/alpine:3.19`` there. A manifest asked for by
digest is served from the cache, else fetched, verified and stored; one asked for by
tag is re-validated with a HEAD to the upstream once it was last checked more than
``ttl`` seconds ago, and served from the cache when the upstream is down or rate
limiting. Blobs are fetched when first asked for (:mod:`._fetches`). What the upstream
sends is checked before anything is stored: its digest (the one asked for, or the one
the upstream named), that it parses as a manifest, and nothing else is followed
(redirects to another host are refused by the upstream adapter). Cached content is
ordinary content of the project: quotas, retention and garbage collection apply.

Mirror mode: with a ``mirror`` project, a pull of a repository that is not in any
project here (``/v2/library/alpine/...`` from a ``registry-mirrors`` client) is served
from ``MIRROR/library/alpine``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from imageforge.errors import Denied, ImageforgeError, NotFound, Unauthorized, Unavailable
from imageforge.oci import Digest, IndexManifest, Manifest, digest_bytes
from imageforge.registry._names import project_of
from imageforge.registry._secrets import SecretBox
from imageforge.registry.meta import ManifestRow, MetaStore
from imageforge.registry.proxy._fetches import BlobFetches
from imageforge.registry.proxy._store import ProxyStore, projects_changes
from imageforge.registry.proxy._upstream import Upstream, UpstreamFactory, UpstreamSpec
from imageforge.registry.service import (
    BlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    parse_digest,
    read_manifest,
)
from imageforge.registry.storage import RegistryStorage

__all__ = ["DEFAULT_TTL", "ProxyCache"]

_LOG = logging.getLogger("imageforge.registry.proxy")

# Harbor and distribution re-validate a cached tag after a day at most; Harbor asks on
# every pull. Every 5 minutes: a moved tag shows soon, the upstream sees few requests.
DEFAULT_TTL = 300.0
# Which projects are proxy caches is kept in the process: loaded again at once after a
# change made through this process, and at the latest this many seconds after one made
# by another process (another replica on the same database).
PROJECTS_REFRESH = 5.0
_MAX_DEPTH = 2  # an index of indexes at most
_T = TypeVar("_T")


def _ask(where: str, call: Callable[[], _T], unknown: Callable[[str], NotFound]) -> _T:
    """``call()`` to the upstream, its failures as a client of this registry should see
    them: what the upstream does not have as ``unknown``, anything else (down, rate
    limiting, credentials refused, an answer that is not one) as Unavailable."""
    try:
        return call()
    except NotFound as exc:
        raise unknown(f"{where}: {exc.message}") from None
    except Unavailable as exc:
        raise Unavailable(
            f"{where}: the upstream is unavailable and this is not cached: {exc.message}",
            hint="pull it again when the upstream is back",
        ) from None
    except (Unauthorized, Denied) as exc:
        raise Unavailable(
            f"{where}: the upstream refused the proxy's credentials ({exc.message})",
            hint="registry project add NAME --proxy-for URL --username U --password-stdin"
            " sets them again",
        ) from None
    except ImageforgeError as exc:
        raise Unavailable(f"{where}: {exc.message}", hint=exc.hint) from None


class ProxyCache:
    def __init__(
        self,
        meta: MetaStore,
        storage: RegistryStorage,
        factory: UpstreamFactory,
        *,
        ttl: float = DEFAULT_TTL,
        mirror: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        spool_dir: Path | None = None,
        projects_refresh: float = PROJECTS_REFRESH,
        secrets: SecretBox | None = None,  # opens the upstream passwords
    ) -> None:
        self.meta = meta
        self.storage = storage
        self.store = ProxyStore(meta, secrets)
        self.factory = factory
        self.ttl = ttl
        self.mirror = mirror
        self.clock = clock
        self.fetches = BlobFetches(meta, storage, spool_dir=spool_dir)
        self._lock = threading.Lock()
        self._upstreams: dict[str, tuple[UpstreamSpec, Upstream]] = {}
        self._checked: dict[tuple[str, str], float] = {}
        self.projects_refresh = projects_refresh
        self._specs: dict[str, UpstreamSpec] | None = None
        self._specs_seen = 0  # projects_changes() when they were loaded
        self._specs_until = 0.0  # time.monotonic() when they are loaded again

    def close(self) -> None:
        with self._lock:
            for _spec, upstream in self._upstreams.values():
                upstream.close()
            self._upstreams.clear()

    # --- which repositories are proxied
    def _specs_now(self) -> dict[str, UpstreamSpec] | None:
        """The proxy projects' upstreams as kept, None if they must be loaded again."""
        with self._lock:
            if (
                self._specs is None
                or self._specs_seen != projects_changes()
                or time.monotonic() >= self._specs_until
            ):
                return None
            return self._specs

    def _project_specs(self) -> dict[str, UpstreamSpec]:
        specs = self._specs_now()
        if specs is not None:
            return specs
        seen = projects_changes()  # before the query: a change made meanwhile loads them again
        specs = self.store.specs()
        with self._lock:
            self._specs, self._specs_seen = specs, seen
            self._specs_until = time.monotonic() + self.projects_refresh
        return specs

    def proxied_now(self, repo: str) -> bool | None:
        """Whether ``repo`` is in a proxy-cache project, answered without a query (so
        without leaving the event loop); None if that needs a query (:meth:`proxied`)."""
        specs = self._specs_now()
        return None if specs is None else ("/" in repo and project_of(repo) in specs)

    def proxied(self, repo: str) -> bool:
        return "/" in repo and project_of(repo) in self._project_specs()

    def upstream_of(self, repo: str) -> tuple[UpstreamSpec, Upstream, str] | None:
        """The upstream of ``repo``'s project and the repository's name there; None if
        ``repo`` is not in a proxy-cache project."""
        if "/" not in repo:
            return None
        project, name = repo.split("/", 1)
        spec = self._project_specs().get(project)
        if spec is None:
            return None
        with self._lock:
            known = self._upstreams.get(project)
            if known is None or known[0] != spec:
                try:
                    opened = self.store.opened(project, spec)
                except ImageforgeError as exc:  # not this registry's key
                    _LOG.warning("proxy project %s: %s", project, exc)
                    raise Unavailable(
                        f"proxy project {project}: its upstream password cannot be used ({exc})",
                        hint=exc.hint,
                    ) from None
                if known is not None:
                    known[1].close()
                known = self._upstreams[project] = (spec, self.factory(opened))
        return spec, known[1], name

    def refuse_push(self, repo: str) -> None:
        """Denied if ``repo`` is in a proxy-cache project (its content comes from the
        upstream only)."""
        if self.proxied(repo):
            project = project_of(repo)
            raise Denied(
                f"project {project} is a proxy cache: pushes into it are refused",
                hint="push to a project that is not a proxy cache",
            )

    def mirrored(self, repo: str) -> str:
        """The repository a pull of ``repo`` reads: in mirror mode, one that is in no
        project here is read from the mirror project."""
        if self.mirror is None or self.meta.repo_exists(repo):
            return repo
        project = project_of(repo)
        if project != "library" and self.meta.project(project) is not None:
            return repo
        return f"{self.mirror}/{repo if '/' in repo else 'library/' + repo}"

    # --- manifests
    def ensure_manifest(self, repo: str, ref: str) -> None:
        """Make the manifest ``repo:ref`` of a proxy project current in the cache
        (nothing for other repositories)."""
        found = self.upstream_of(repo)
        if found is None:
            return
        spec, upstream, name = found
        where = f"{spec.url}/{name}"
        if ":" in ref:
            digest = parse_digest(ref)
            if self.meta.manifest(repo, digest) is None:
                self._fetch(upstream, where, name, repo, str(digest), None, 0)
            return
        key = (repo, ref)
        cached = self.meta.resolve_tag(repo, ref)
        now = self.clock()
        if cached is not None and now - self._checked.get(key, -self.ttl - 1) < self.ttl:
            return
        try:
            current = _ask(where, lambda: upstream.head(name, ref), ManifestUnknown)
        except Unavailable:
            if cached is not None:
                return  # the upstream is down or rate limiting: serve what we have
            raise
        if current != cached:
            if self.meta.manifest(repo, current) is not None:
                self._tag(repo, current, ref)
            else:
                self._fetch(upstream, where, name, repo, str(current), ref, 0)
        self._checked[key] = now

    def _tag(self, repo: str, digest: Digest, tag: str) -> None:
        """Move ``tag`` to the cached manifest ``digest`` (the upstream moved it there)."""
        row = self.meta.manifest(repo, digest)
        if row is None:
            raise ManifestUnknown(f"manifest {repo}@{digest} is not known")
        self.meta.put_manifest(row, [], [], tag)

    def _fetch(
        self,
        upstream: Upstream,
        where: str,
        name: str,
        repo: str,
        ref: str,
        tag: str | None,
        depth: int,
    ) -> Digest:
        """Fetch, verify and store the manifest ``name@ref`` (an index with its
        children), tagged ``tag``."""
        got = _ask(where, lambda: upstream.manifest(name, ref), ManifestUnknown)
        actual = digest_bytes(got.body)
        expected = parse_digest(ref) if ":" in ref else got.named
        if expected is not None and actual != expected:
            raise Unavailable(
                f"{where}: manifest {ref} from the upstream has digest {actual}, not"
                f" {expected}; nothing was cached",
                hint="the upstream registry is serving corrupt or forged content",
            )
        try:
            media_type, parsed = read_manifest(got.body, got.media_type)
        except ManifestInvalid as exc:
            raise Unavailable(
                f"{where}: the upstream's answer for {ref} is not a manifest"
                f" ({exc.message}); nothing was cached"
            ) from None
        children: list[Digest] = []
        if isinstance(parsed, IndexManifest):
            if depth >= _MAX_DEPTH:
                raise Unavailable(f"{where}: indexes nested deeper than {_MAX_DEPTH}")
            for child in parsed.manifests:
                if self.meta.manifest(repo, child.digest) is None:
                    self._fetch(upstream, where, name, repo, str(child.digest), None, depth + 1)
                children.append(child.digest)
        artifact_type = parsed.artifact_type
        if isinstance(parsed, Manifest) and artifact_type is None:
            artifact_type = parsed.config.media_type
        subject = None if parsed.subject is None else parsed.subject.digest
        row = ManifestRow(repo, actual, media_type, len(got.body), artifact_type, subject)
        self.storage.write_blob(got.body, actual)
        # Its blobs are linked when they are fetched: none is stored yet.
        self.meta.put_manifest(row, children, [], tag)
        self.storage.write_blob(got.body, actual)  # garbage collection may have moved it
        return actual

    # --- blobs
    def blob(self, repo: str, digest: Digest) -> tuple[int | None, Iterator[bytes]] | None:
        """The blob's size and bytes, fetched from the upstream of ``repo``'s proxy
        project; None if ``repo`` is not in one or the blob is cached (read it as any)."""
        found = self.upstream_of(repo)
        if found is None or self.meta.blob_linked(repo, digest):
            return None
        if self.storage.exists(digest):  # cached for another repository
            self.meta.link_blob(repo, digest, self.storage.info(digest).size)
            return None
        spec, upstream, name = found
        what = f"{spec.url}/{name}: blob {digest}"
        return self.fetches.follow(
            repo, digest, lambda: _ask(what, lambda: upstream.blob(name, digest), BlobUnknown), what
        )
