"""The registry client: one more source and sink of images, over the OCI distribution
API. A sync ``httpx`` :class:`Client` (timeouts, retries with backoff, resumed blob
downloads), the auth flow as one ``httpx.Auth`` (:class:`RegistryAuth`: basic, bearer
tokens from any realm, scope upgrades), credentials in the files podman, skopeo and
docker use, :func:`open_remote` (lazy ``oci.Image``/``ImageIndex``), :func:`push`
(existence checks, cross-repository mount, chunked uploads, parallel blobs) and tag
listing with pagination.
"""

from imageforge.remote._auth import RegistryAuth, parse_challenge, scopes_for
from imageforge.remote._authfile import (
    Credentials,
    auth_file_paths,
    default_auth_file,
    find_credentials,
    remove_credentials,
    save_credentials,
)
from imageforge.remote._client import MANIFEST_ACCEPT, Client, registry_host
from imageforge.remote._image import RemoteIndex, open_remote
from imageforge.remote._push import PushOptions, push

__all__ = [
    "MANIFEST_ACCEPT",
    "Client",
    "Credentials",
    "PushOptions",
    "RegistryAuth",
    "RemoteIndex",
    "auth_file_paths",
    "default_auth_file",
    "find_credentials",
    "open_remote",
    "parse_challenge",
    "push",
    "registry_host",
    "remove_credentials",
    "save_credentials",
    "scopes_for",
]
