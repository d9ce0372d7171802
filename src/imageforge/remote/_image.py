"""Images in a registry, read lazily through the ``oci`` protocols: the manifest is
fetched at once, the config when asked, layer blobs streamed when opened (verified by
``layers.BlobImage`` as they are read)."""

from __future__ import annotations

from imageforge.errors import DigestMismatch
from imageforge.layers import BlobImage
from imageforge.oci import BaseIndex, Digest, Image, ImageIndex, Reference, media
from imageforge.remote._client import Client, registry_host

__all__ = ["RemoteIndex", "open_remote"]


class RemoteIndex(BaseIndex):
    """An index (manifest list) in a registry; children are fetched by digest."""

    def __init__(self, client: Client, host: str, repo: str, raw: bytes) -> None:
        self._client = client
        self._host = host
        self._repo = repo
        self._raw = raw

    def raw_manifest(self) -> bytes:
        return self._raw

    def _child(self, digest: Digest) -> Image | ImageIndex:
        if not any(d.digest == digest for d in self.manifest().manifests):
            raise DigestMismatch(f"index {self.digest} has no child {digest}")
        return _open(self._client, self._host, self._repo, str(digest))

    def image(self, digest: Digest) -> Image:
        child = self._child(digest)
        if isinstance(child, ImageIndex):
            raise DigestMismatch(f"{digest} in index {self.digest} is an index, not an image")
        return child

    def index(self, digest: Digest) -> ImageIndex:
        child = self._child(digest)
        if not isinstance(child, ImageIndex):
            raise DigestMismatch(f"{digest} in index {self.digest} is an image, not an index")
        return child


def _open(client: Client, host: str, repo: str, ref: str) -> Image | ImageIndex:
    raw, media_type, _ = client.get_manifest(host, repo, ref)
    if media.is_index(media_type):
        return RemoteIndex(client, host, repo, raw)
    return BlobImage(client.blob_opener(host, repo), raw)


def open_remote(client: Client, ref: Reference) -> Image | ImageIndex:
    """The image or index ``ref`` names (``:latest`` without tag or digest)."""
    ref = ref.with_default_tag()
    target = str(ref.digest) if ref.digest is not None else str(ref.tag)
    return _open(client, registry_host(ref.domain), ref.path, target)
