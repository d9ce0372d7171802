"""Pushing an image or index to a registry.

Blobs first (config and layers, in parallel on a bounded thread pool), each skipped when
``HEAD`` finds it, mounted from another repository of the same registry when the caller
names one, else uploaded: one ``PUT`` for a small blob, ``PATCH`` chunks then a closing
``PUT`` for a big one. Manifests last, children before the index, so a tag never names
missing content.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import IO

from imageforge._httpx import httpx
from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, Image, ImageIndex, Reference, digest_bytes, walk_image_graph
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.remote._client import Client, registry_host

__all__ = ["PushOptions", "push"]


@dataclass(frozen=True)
class PushOptions:
    jobs: int = 4  # blobs uploaded at once
    monolithic_limit: int = 8 << 20  # blobs up to this size go in one PUT
    chunk_size: int = 8 << 20  # PATCH size for bigger ones
    mount_from: str | None = None  # a repository on the same registry to mount from


@dataclass(frozen=True)
class _Blob:
    digest: Digest
    size: int
    open: Callable[[], IO[bytes]]
    what: str


def _collect(
    obj: Image | ImageIndex, blobs: dict[Digest, _Blob], docs: list[tuple[bytes, str]]
) -> None:
    """The blobs of every image and the manifest of every node under ``obj``, children
    before the index that names them (``obj`` last)."""
    for node in walk_image_graph(obj):
        if not isinstance(node, ImageIndex):
            raw_config = node.raw_config()
            cfg = node.manifest().config
            blobs.setdefault(
                cfg.digest,
                _Blob(cfg.digest, len(raw_config), partial(io.BytesIO, raw_config), "config"),
            )
            for i, layer in enumerate(node.layers()):
                blobs.setdefault(
                    layer.digest,
                    _Blob(layer.digest, layer.size, layer.open_compressed, f"layer {i + 1}"),
                )
        docs.append((node.raw_manifest(), node.media_type))


def _location(resp: httpx.Response, host: str, what: str) -> str:
    loc = resp.headers.get("location")
    if not loc:
        raise InvalidArgument(f"{host}: {what}: the registry sent no upload Location")
    return str(resp.url.join(loc))


def _with_digest(url: str, digest: Digest) -> str:
    return str(httpx.URL(url).copy_merge_params({"digest": str(digest)}))


def _push_blob(
    client: Client,
    host: str,
    repo: str,
    blob: _Blob,
    opts: PushOptions,
    progress: ProgressSink,
) -> str:
    what = f"{blob.what} {blob.digest.short}"
    if client.blob_exists(host, repo, blob.digest):
        return "exists"
    uploads = f"/v2/{repo}/blobs/uploads/"
    if opts.mount_from and opts.mount_from != repo:
        resp = client.request(
            "POST",
            host,
            uploads,
            what=f"mount {what}",
            ok=(201, 202),
            params={"mount": str(blob.digest), "from": opts.mount_from},
        )
        if resp.status_code == 201:
            return "mounted"
    else:
        resp = client.request("POST", host, uploads, what=f"upload {what}", ok=(202,))
    url = _location(resp, host, what)
    key = f"push-{blob.digest}"
    progress.start(key, f"pushing {what}", blob.size, "bytes")
    try:
        with blob.open() as src:
            if blob.size <= opts.monolithic_limit:
                data = src.read()
                src.read()  # end of stream: a verifying reader checks the digest now
                client.request(
                    "PUT",
                    host,
                    _with_digest(url, blob.digest),
                    what=f"upload {what}",
                    ok=(201, 204),
                    content=data,
                    headers={"Content-Type": "application/octet-stream"},
                )
                progress.advance(key, len(data))
            else:
                offset = 0
                while chunk := src.read(opts.chunk_size):
                    resp = client.request(
                        "PATCH",
                        host,
                        url,
                        what=f"upload {what} at byte {offset}",
                        ok=(202, 204),
                        content=chunk,
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                        },
                    )
                    url = _location(resp, host, what)
                    offset += len(chunk)
                    progress.advance(key, len(chunk))
                client.request(
                    "PUT",
                    host,
                    _with_digest(url, blob.digest),
                    what=f"upload {what}",
                    ok=(201, 204),
                )
    except BaseException:
        progress.done(key, failed=True)
        raise
    progress.done(key)
    return "pushed"


def push(
    client: Client,
    obj: Image | ImageIndex,
    ref: Reference,
    *,
    options: PushOptions | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> Digest:
    """Push ``obj`` (with every child of an index) to ``ref``; its manifest digest."""
    opts = options or PushOptions()
    host, repo = registry_host(ref.domain), ref.path
    blobs: dict[Digest, _Blob] = {}
    docs: list[tuple[bytes, str]] = []
    _collect(obj, blobs, docs)
    pool = ThreadPoolExecutor(max_workers=max(1, opts.jobs))
    try:
        futures = {
            d: pool.submit(_push_blob, client, host, repo, b, opts, progress)
            for d, b in blobs.items()
        }
        for digest, fut in futures.items():
            outcome = fut.result()
            if outcome != "pushed":
                progress.note(f"{blobs[digest].what} {digest.short}: {outcome}")
    finally:  # on a failure, blobs not started yet are not started at all
        pool.shutdown(wait=True, cancel_futures=True)
    for raw, media_type in docs[:-1]:
        client.put_manifest(host, repo, str(digest_bytes(raw)), raw, media_type)
    raw, media_type = docs[-1]
    target = ref.tag if ref.tag is not None else str(ref.digest or obj.digest)
    if ref.tag is None and ref.digest is None:
        target = "latest"
    return client.put_manifest(host, repo, target, raw, media_type)
