"""Registry blob storage: implementations of the store's blob roles (BlobReader,
BlobIngester/Ingest, BlobManager) plus the registry's hooks (garbage collection, upload
expiry, redirects), on a local filesystem or in an S3 bucket (``RegistryStorage``). An
upload session is an ``Ingest`` named by its upload id: resumable across requests,
verified on commit, invisible until then."""

from imageforge.registry.storage._fs import FsBlobStorage
from imageforge.registry.storage._open import open_storage
from imageforge.registry.storage._protocol import RegistryIngest, RegistryStorage
from imageforge.registry.storage._s3 import S3BlobStorage
from imageforge.registry.storage._s3_client import S3Location

__all__ = [
    "FsBlobStorage",
    "RegistryIngest",
    "RegistryStorage",
    "S3BlobStorage",
    "S3Location",
    "open_storage",
]
