"""The upstream of a registry's proxy-cache project (``registry.proxy.Upstream``) over
the registry client: its auth (basic, bearer tokens from the upstream's realm), its
timeouts and its retries, kept short (a pull waits on them). Answers are taken only
from the upstream's own host: a redirect to another host is refused (a blob store
behind the upstream should be reached through it, not on the upstream's word)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, digest_bytes
from imageforge.registry.proxy import Fetched, UpstreamSpec
from imageforge.remote import MANIFEST_ACCEPT, Client, Credentials

__all__ = ["HttpUpstream"]

MAX_MANIFEST = 4 << 20  # bytes, as the registry accepts on push


class HttpUpstream:
    """One upstream registry (``registry.proxy.Upstream``)."""

    def __init__(self, spec: UpstreamSpec, *, retries: int = 1, timeout: float = 60.0) -> None:
        parts = urlsplit(spec.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        creds = {}
        if spec.username is not None:
            creds[self.host] = Credentials(spec.username, spec.password or "")
        self.client = Client(
            credentials=creds,
            retries=retries,
            backoff=0.2,
            timeout=timeout,
            connect_timeout=5.0,
        )

    def close(self) -> None:
        self.client.close()

    def _send(
        self, method: str, path: str, what: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        resp = self.client.send(
            method, self.host, self.base + path, what=what, headers=headers, stream=True
        )
        if resp.url.netloc.decode() != self.host or resp.url.scheme != urlsplit(self.base).scheme:
            resp.close()
            raise InvalidArgument(
                f"{self.base}: {what}: the upstream redirected to {resp.url.scheme}://"
                f"{resp.url.netloc.decode()}, another host; refused, nothing was cached",
                hint="a proxy project takes content only from its upstream's host",
            )
        try:
            self.client.check(resp, self.host, what, (200,))
        except BaseException:
            resp.close()
            raise
        return resp

    def manifest(self, repo: str, ref: str) -> Fetched:
        what = f"manifest {repo}@{ref}" if ":" in ref else f"manifest {repo}:{ref}"
        resp = self._send("GET", f"/v2/{repo}/manifests/{ref}", what, {"Accept": MANIFEST_ACCEPT})
        try:
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_MANIFEST:
                    raise InvalidArgument(
                        f"{self.base}: {what} is larger than {MAX_MANIFEST} bytes; refused"
                    )
        finally:
            resp.close()
        named = resp.headers.get("docker-content-digest")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        try:
            return Fetched(body, media_type, Digest(named) if named else None)
        except InvalidArgument:
            raise InvalidArgument(
                f"{self.base}: {what}: the upstream named an invalid digest {named!r}; refused"
            ) from None

    def head(self, repo: str, tag: str) -> Digest:
        what = f"manifest {repo}:{tag}"
        resp = self._send("HEAD", f"/v2/{repo}/manifests/{tag}", what, {"Accept": MANIFEST_ACCEPT})
        resp.close()
        named = resp.headers.get("docker-content-digest")
        if not named:  # an upstream that names no digest: ask for the manifest itself
            return digest_bytes(self.manifest(repo, tag).body)
        try:
            return Digest(named)
        except InvalidArgument:
            raise InvalidArgument(
                f"{self.base}: {what}: the upstream named an invalid digest {named!r}; refused"
            ) from None

    def blob(self, repo: str, digest: Digest) -> tuple[int | None, _Body]:
        resp = self._send("GET", f"/v2/{repo}/blobs/{digest}", f"blob {digest} of {repo}")
        length = resp.headers.get("content-length", "")
        return (int(length) if length.isdigit() else None), _Body(resp)


class _Body:
    """A streamed response body read like a file (what the proxy's fetch reads)."""

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._chunks = resp.iter_raw(1 << 20)

    def read(self, size: int, /) -> bytes:  # at most one received chunk, whatever size
        return next(self._chunks, b"")

    def close(self) -> None:
        self._resp.close()
