"""Registry blob storage: implementations of the store's blob roles (BlobReader,
BlobIngester/Ingest, BlobManager). An upload session is an ``Ingest`` named by its
upload id: resumable across requests, verified on commit, invisible until then."""

from imageforge.registry.storage._fs import FsBlobStorage

__all__ = ["FsBlobStorage"]
