"""The registry's services, below the HTTP edge and the admin commands: uploads,
manifests and tags, blobs, access (logins, tokens) and management. They own the rules
(the Distribution Spec's checks, immutable tags through the gates, who may manage what)
and raise the shared error kinds of ``imageforge.errors`` (each registry error names the
spec's error code it answers with); they know nothing of HTTP."""

from imageforge.registry.service._access import MAX_SCOPES, AccessControl, IssuedToken
from imageforge.registry.service._blobs import Blobs
from imageforge.registry.service._errors import (
    BlobUnknown,
    DigestInvalid,
    LoginLocked,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SpecError,
    TokenRefused,
    UploadConflict,
    UploadUnknown,
)
from imageforge.registry.service._manage import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    OPERATOR,
    PROJECT_MAX,
    PROJECT_PATTERN,
    USER_PATTERN,
    Management,
    check_user_name,
    stored_size,
)
from imageforge.registry.service._manifests import (
    MANIFEST_TYPES,
    Manifests,
    PulledManifest,
    blobs_named_by,
    parse_digest,
    read_manifest,
    stored_config,
    stored_manifest,
    valid_repository,
)
from imageforge.registry.service._scans import ScanService, scan_json
from imageforge.registry.service._state import RegistryState, registry_gates
from imageforge.registry.service._uploads import (
    Uploads,
    UploadSession,
    ingest_ref,
    purge_uploads,
    sweep_interval,
)

__all__ = [
    "MANIFEST_TYPES",
    "MAX_PASSWORD",
    "MAX_SCOPES",
    "MIN_PASSWORD",
    "OPERATOR",
    "PROJECT_MAX",
    "PROJECT_PATTERN",
    "USER_PATTERN",
    "AccessControl",
    "BlobUnknown",
    "Blobs",
    "DigestInvalid",
    "IssuedToken",
    "LoginLocked",
    "Management",
    "ManifestBlobUnknown",
    "ManifestInvalid",
    "ManifestUnknown",
    "Manifests",
    "NameInvalid",
    "NameUnknown",
    "PulledManifest",
    "RegistryState",
    "ScanService",
    "SpecError",
    "TokenRefused",
    "UploadConflict",
    "UploadSession",
    "UploadUnknown",
    "Uploads",
    "blobs_named_by",
    "check_user_name",
    "ingest_ref",
    "parse_digest",
    "purge_uploads",
    "read_manifest",
    "registry_gates",
    "scan_json",
    "stored_config",
    "stored_manifest",
    "stored_size",
    "sweep_interval",
    "valid_repository",
]
