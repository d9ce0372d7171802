"""The registry: an OCI Distribution server (Starlette on uvicorn) with content-addressed
blob storage shared across repositories, metadata in SQL, users, projects and Docker
token auth. Gates (``policy.Gate``) are injected from outside; none by default.
Governance: project roles, robot accounts, an audit log, the ``/api/v1/`` management
API, immutable tags and garbage collection (:func:`collect_garbage`)."""

from imageforge.registry._config import (
    ProjectConfig,
    RegistryConfig,
    UserConfig,
    load_config,
    parse_duration,
)
from imageforge.registry._gc import GcReport, collect_garbage
from imageforge.registry._server import open_registry, serve
from imageforge.registry.api import RegistryState, create_app

__all__ = [
    "GcReport",
    "ProjectConfig",
    "RegistryConfig",
    "RegistryState",
    "UserConfig",
    "collect_garbage",
    "create_app",
    "load_config",
    "open_registry",
    "parse_duration",
    "serve",
]
