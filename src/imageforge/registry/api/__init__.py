"""The registry's HTTP edge: an ASGI app (Starlette) serving the OCI Distribution Spec
v1.1, the Docker token endpoint and the management API: routing, request parsing,
response building and the one map from error kinds to HTTP status and codes. What the
requests do is the services' (``registry.service``)."""

from imageforge.registry.api._app import create_app
from imageforge.registry.api._errors import STATUS, ApiError, http_error
from imageforge.registry.service import RegistryState

__all__ = ["STATUS", "ApiError", "RegistryState", "create_app", "http_error"]
