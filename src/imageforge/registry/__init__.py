"""The registry: an OCI Distribution server (Starlette on uvicorn) with content-addressed
blob storage shared across repositories, metadata in SQL, users, projects and Docker
token auth. Gates (``policy.Gate``) are injected from outside; none by default."""

from imageforge.registry._config import ProjectConfig, RegistryConfig, UserConfig, load_config
from imageforge.registry._server import open_registry, serve
from imageforge.registry.api import RegistryState, create_app

__all__ = [
    "ProjectConfig",
    "RegistryConfig",
    "RegistryState",
    "UserConfig",
    "create_app",
    "load_config",
    "open_registry",
    "serve",
]
