"""The registry's HTTP edge: an ASGI app (Starlette) serving the OCI Distribution Spec
v1.1 and the Docker token endpoint, with errors in the spec's JSON form."""

from imageforge.registry.api._app import RegistryState, create_app
from imageforge.registry.api._errors import ApiError

__all__ = ["ApiError", "RegistryState", "create_app"]
