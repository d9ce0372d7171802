"""The registry: an OCI Distribution server (Starlette on uvicorn) with content-addressed
blob storage shared across repositories, metadata in SQL, users, projects and Docker
token auth. Handlers (``api``) parse HTTP and call the services (``service``), which own
the rules; gates (``policy``) decide on push, pull and delete: immutable tags in every
registry, others injected from outside.
Governance: project roles, robot accounts, an audit log, the ``/api/v1/`` management
API, immutable tags and garbage collection (:func:`collect_garbage`)."""

from imageforge.registry._config import (
    ProjectConfig,
    RegistryConfig,
    UserConfig,
    load_config,
)
from imageforge.registry._gc import GcReport, collect_garbage
from imageforge.registry._server import open_registry, serve
from imageforge.registry.api import create_app
from imageforge.registry.service import RegistryState

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
    "serve",
]
