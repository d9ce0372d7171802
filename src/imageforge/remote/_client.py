"""A sync registry client (OCI distribution spec) over one ``httpx.Client``.

Explicit timeouts; retries with exponential backoff on connection errors and 5xx
answers; blobs streamed in chunks and, when a connection drops mid-blob, resumed with a
``Range`` request from the last byte received. ``tls_verify=False`` (podman's
``--tls-verify=false``) skips certificate checks and allows plain HTTP: ``https`` is
tried first, ``http`` when that fails.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from imageforge._httpx import httpx
from imageforge.errors import (
    Denied,
    DigestMismatch,
    ImageforgeError,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
    Unsupported,
)
from imageforge.oci import Digest, digest_bytes, media
from imageforge.remote._auth import RegistryAuth
from imageforge.remote._authfile import Credentials, find_credentials

__all__ = ["MANIFEST_ACCEPT", "Client", "registry_host"]

MANIFEST_ACCEPT = ", ".join(
    [media.OCI_INDEX, media.OCI_MANIFEST, media.DOCKER_MANIFEST_LIST, media.DOCKER_MANIFEST]
)
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_CHUNK = 1 << 20
MAX_MANIFEST = 4 << 20


def registry_host(domain: str) -> str:
    """The host to talk to for a reference's domain (Docker Hub's API lives elsewhere)."""
    return "registry-1.docker.io" if domain == "docker.io" else domain


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return ""


class Client:
    """Talks to any number of registries; thread-safe (one connection pool).

    ``credentials`` maps a host to fixed credentials (``--creds``); other hosts use the
    auth files (``authfile`` or the podman/skopeo order)."""

    def __init__(
        self,
        *,
        tls_verify: bool = True,
        authfile: Path | None = None,
        credentials: dict[str, Credentials] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_connections: int = 16,
    ) -> None:
        self.tls_verify = tls_verify
        self.authfile = authfile
        self.retries = retries
        self.backoff = backoff
        self._credentials = dict(credentials or {})
        self._http = httpx.Client(
            verify=tls_verify,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"User-Agent": "imageforge"},
        )
        self._lock = threading.Lock()
        self._auths: dict[str, RegistryAuth] = {}
        self._bases: dict[str, str] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing
    def credentials_for(self, host: str, repository: str = "") -> Credentials | None:
        if host in self._credentials:
            return self._credentials[host]
        domain = "docker.io" if host == "registry-1.docker.io" else host
        return find_credentials(domain, repository, self.authfile)

    def auth(self, host: str) -> RegistryAuth:
        with self._lock:
            auth = self._auths.get(host)
            if auth is None:
                auth = self._auths[host] = RegistryAuth(host, self.credentials_for(host))
            return auth

    def base_url(self, host: str) -> str:
        """``https://host``, or ``http://host`` when TLS is off and https does not answer."""
        with self._lock:
            base = self._bases.get(host)
        if base is not None:
            return base
        base = f"https://{host}"
        if not self.tls_verify:
            try:
                self._http.get(base + "/v2/", timeout=5).close()
            except httpx.TransportError:
                base = f"http://{host}"
        with self._lock:
            self._bases[host] = base
        return base

    def _sleep(self, attempt: int) -> None:
        time.sleep(self.backoff * (2**attempt))

    def send(
        self,
        method: str,
        host: str,
        path_or_url: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        stream: bool = False,
        auth: httpx.Auth | None = None,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """One request, retried on connection errors and 5xx; the response as it came
        (the caller checks its status), read unless ``stream``; a redirect is answered
        as it came unless ``follow_redirects``."""
        url = path_or_url if "://" in path_or_url else self.base_url(host) + path_or_url
        attempt = 0
        while True:
            request = self._http.build_request(
                method, url, headers=headers, params=params, content=content
            )
            try:
                response = self._http.send(
                    request,
                    auth=auth or self.auth(host),
                    stream=stream,
                    follow_redirects=follow_redirects,
                )
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise Unavailable(
                        f"{host}: {what}: {type(exc).__name__}: {exc or 'connection failed'} "
                        f"(tried {attempt + 1} times)",
                        hint="is the registry running and reachable? "
                        "(--tls-verify=false for a plain-HTTP registry)",
                    ) from None
                self._sleep(attempt)
                attempt += 1
                continue
            if response.status_code in _RETRY_STATUS and attempt < self.retries:
                response.close()
                self._sleep(attempt)
                attempt += 1
                continue
            return response

    def check(self, response: httpx.Response, host: str, what: str, ok: tuple[int, ...]) -> None:
        """Raise the imageforge error for a status not in ``ok``."""
        if response.status_code in ok:
            return
        if not response.is_stream_consumed:
            response.read()
        status = response.status_code
        detail = _error_text(response) or f"HTTP {status}"
        message = f"{host}: {what}: {detail}"
        if status == 401:
            creds = self.auth(host).credentials
            raise Unauthorized(
                message,
                hint=f"imageforge login {host}"
                if creds is None
                else f"the credentials of {creds.username} were refused: imageforge login {host}",
            )
        if status == 403:
            raise Denied(message)
        if status == 404:
            raise NotFound(message)
        if status in _RETRY_STATUS or status == 429:
            raise Unavailable(message + " (after retries)")
        if "DIGEST_INVALID" in detail or "SIZE_INVALID" in detail:
            raise DigestMismatch(message)
        if "UNSUPPORTED" in detail or status == 405:
            raise Unsupported(message)
        raise InvalidArgument(message)

    def request(
        self,
        method: str,
        host: str,
        path_or_url: str,
        *,
        what: str,
        ok: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> httpx.Response:
        response = self.send(method, host, path_or_url, what=what, **kwargs)
        self.check(response, host, what, ok)
        return response

    # ---------------------------------------------------------------- API
    def ping(self, host: str, credentials: Credentials | None = None) -> None:
        """``GET /v2/``; with ``credentials``, check them (Unauthorized if wrong)."""
        auth: httpx.Auth | None = None
        if credentials is not None:
            auth = RegistryAuth(host, credentials, preemptive_basic=True)
        self.request("GET", host, "/v2/", what="ping", auth=auth)

    def get_manifest(self, host: str, repo: str, ref: str) -> tuple[bytes, str, Digest]:
        """A manifest by tag or digest: raw bytes, media type, digest (verified when
        ``ref`` is a digest)."""
        what = f"manifest {repo}:{ref}" if ":" not in ref else f"manifest {repo}@{ref}"
        resp = self.request(
            "GET",
            host,
            f"/v2/{repo}/manifests/{ref}",
            what=what,
            headers={"Accept": MANIFEST_ACCEPT},
        )
        raw = resp.content
        if len(raw) > MAX_MANIFEST:
            raise InvalidArgument(f"{host}: {what} is larger than {MAX_MANIFEST} bytes")
        digest = digest_bytes(raw)
        expected = ref if ":" in ref else resp.headers.get("docker-content-digest")
        if expected and expected.startswith("sha256:") and Digest(expected) != digest:
            raise DigestMismatch(
                f"{host}: {what}: content has digest {digest}, expected {expected}",
                expected=expected,
                actual=str(digest),
            )
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if not (media.is_manifest(media_type) or media.is_index(media_type)):
            try:
                media_type = str(json.loads(raw).get("mediaType", ""))
            except (ValueError, AttributeError):
                media_type = ""
        if not (media.is_manifest(media_type) or media.is_index(media_type)):
            raise Unsupported(
                f"{host}: {what} has media type {media_type or 'unknown'!r}",
                hint="only OCI and Docker schema 2 images are supported",
            )
        return raw, media_type, digest

    def put_manifest(self, host: str, repo: str, ref: str, raw: bytes, media_type: str) -> Digest:
        self.request(
            "PUT",
            host,
            f"/v2/{repo}/manifests/{ref}",
            what=f"manifest {repo}:{ref}",
            ok=(200, 201, 202),
            content=raw,
            headers={"Content-Type": media_type},
        )
        return digest_bytes(raw)

    def blob_exists(self, host: str, repo: str, digest: Digest) -> bool:
        resp = self.send("HEAD", host, f"/v2/{repo}/blobs/{digest}", what=f"blob {digest}")
        if resp.status_code == 404:
            return False
        self.check(resp, host, f"blob {digest}", (200,))
        return True

    def open_blob(self, host: str, repo: str, digest: Digest, size: int | None = None) -> IO[bytes]:
        """The blob's bytes as a stream (not verified: callers wrap it, or the store's
        ingest checks on commit); a dropped connection is resumed with ``Range``."""
        return io.BufferedReader(_BlobStream(self, host, repo, digest, size), _CHUNK)

    def blob_opener(self, host: str, repo: str) -> Callable[[Digest], IO[bytes]]:
        return lambda digest: self.open_blob(host, repo, digest)

    def list_tags(self, host: str, repo: str, page_size: int | None = None) -> list[str]:
        """Every tag, following ``Link: <...>; rel="next"`` pages."""
        tags: list[str] = []
        url = f"/v2/{repo}/tags/list"
        params = {"n": str(page_size)} if page_size else None
        while True:
            resp = self.request("GET", host, url, what=f"tags of {repo}", params=params)
            try:
                tags.extend(str(t) for t in (resp.json().get("tags") or []))
            except (ValueError, AttributeError):
                raise InvalidArgument(f"{host}: tags of {repo}: not a JSON tag list") from None
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return tags
            url = str(resp.url.join(nxt))
            params = None


class _BlobStream(io.RawIOBase):
    """A blob download that survives dropped connections (``Range: bytes=N-``)."""

    def __init__(self, client: Client, host: str, repo: str, digest: Digest, size: int | None):
        super().__init__()
        self._client = client
        self._host = host
        self._repo = repo
        self._digest = digest
        self._size = size
        self._offset = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buf = b""
        self._what = f"blob {digest} of {repo}"

    def readable(self) -> bool:
        return True

    def _connect(self) -> None:
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else None
        resp = self._client.send(
            "GET",
            self._host,
            f"/v2/{self._repo}/blobs/{self._digest}",
            what=self._what,
            headers=headers,
            stream=True,
        )
        try:
            self._client.check(resp, self._host, self._what, (200, 206))
        except ImageforgeError:
            resp.close()
            raise
        length = resp.headers.get("content-length", "")
        if self._size is None and resp.status_code == 200 and length.isdigit():
            self._size = int(length)  # so a connection closed early is not taken for the end
        chunks = resp.iter_raw()  # as it arrives: a cut loses no received byte
        if self._offset and resp.status_code == 200:  # no Range support: skip what we have
            skip = self._offset
            while skip > 0:
                data = next(chunks, b"")
                if not data:
                    break
                if len(data) > skip:
                    self._buf = data[skip:]
                skip -= len(data)
        self._response, self._chunks = resp, chunks

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response, self._chunks = None, None

    def _complete(self) -> None:
        """Once the blob is whole, read its response to the end (the last, empty read
        that ends it), so the connection goes back to the pool for the next request
        instead of being closed: a new TLS handshake saved on a remote registry. A
        response with more bytes than the blob has is dropped, connection and all."""
        if self._chunks is None:
            return
        try:
            ended = not next(self._chunks, b"")
        except httpx.TransportError:
            ended = False
        if not ended:
            self._drop()
        self._response, self._chunks = None, None

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        failures = 0
        while not self._buf:
            if self._size is not None and self._offset >= self._size:
                self._complete()
                return 0
            try:
                if self._chunks is None:
                    self._connect()
                    continue  # a resume without Range support may have filled the buffer
                assert self._chunks is not None
                data = next(self._chunks, b"")
                if not data:
                    if self._size is None or self._offset >= self._size:
                        return 0
                    raise httpx.RemoteProtocolError("the connection closed early")
                self._buf = data
            except httpx.TransportError as exc:
                self._drop()
                if failures >= self._client.retries:
                    raise Unavailable(
                        f"{self._host}: {self._what}: connection lost after {self._offset} "
                        f"bytes ({type(exc).__name__}: {exc}) (tried {failures + 1} times)",
                        hint="is the registry still running? nothing partial was kept",
                    ) from None
                self._client._sleep(failures)
                failures += 1
            except Unavailable as exc:
                self._drop()
                if not (self._offset or failures):
                    raise
                raise Unavailable(
                    f"{exc.message}; the download had stopped after {self._offset} bytes",
                    hint="is the registry still running? nothing partial was kept",
                ) from None
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._offset += n
        return n

    def close(self) -> None:
        self._drop()
        super().close()
