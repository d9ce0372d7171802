"""Proxy-cache projects: a project that mirrors an upstream registry, filled on demand
as clients pull (:class:`ProxyCache`), through the :class:`Upstream` seam that is
implemented outside the registry (``pipeline.HttpUpstream``) and injected by
``registry serve``."""

from imageforge.registry.proxy._cache import DEFAULT_TTL, PROJECTS_REFRESH, ProxyCache
from imageforge.registry.proxy._fetches import BlobFetches
from imageforge.registry.proxy._projects import add_project, upstream_spec
from imageforge.registry.proxy._store import (
    ProxyStore,
    check_upstream_url,
    projects_changed,
    spec_json,
)
from imageforge.registry.proxy._upstream import (
    BlobStream,
    Fetched,
    Upstream,
    UpstreamFactory,
    UpstreamSpec,
)

__all__ = [
    "DEFAULT_TTL",
    "PROJECTS_REFRESH",
    "BlobFetches",
    "BlobStream",
    "Fetched",
    "ProxyCache",
    "ProxyStore",
    "Upstream",
    "UpstreamFactory",
    "UpstreamSpec",
    "add_project",
    "projects_changed",
    "check_upstream_url",
    "spec_json",
    "upstream_spec",
]
